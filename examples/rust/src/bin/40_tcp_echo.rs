//! 40: a TCP echo server and clients in one program (the asyncio streams
//! documentation's echo pair): `Server::bind` + `serve` runs a task per
//! connection, `Stream::connect` opens a client, lines go back and forth
//! with `read_line`, `write` and `drain`.
//!
//!   async def handle_echo(reader, writer):
//!       while data := await reader.readline():
//!           writer.write(data)
//!           await writer.drain()
//!       writer.close()
//!       await writer.wait_closed()
use weft::net::{Server, Stream};
use weft::Error;

async fn handle_echo(conn: Stream) -> weft::Result<()> {
    loop {
        let line = conn.read_line().await?;
        if line.is_empty() {
            break; // end of file: the client is done
        }
        conn.write(&line)?;
        conn.drain().await?;
    }
    conn.close()?;
    conn.wait_closed().await
}

async fn client(port: u16, message: String) -> weft::Result<String> {
    let conn = Stream::connect("127.0.0.1", port).await?;
    conn.write(message.as_bytes())?;
    let reply = conn.read_line().await?;
    conn.close()?;
    conn.wait_closed().await?;
    Ok(reply.to_str()?.trim_end().to_string())
}

fn main() {
    weft::run(async {
        let server = Server::bind("127.0.0.1", 0).await?;
        server.serve(handle_echo)?;
        let addr = server.local_addr()?;
        println!("serving on {}", addr.ip());
        // three clients at once; their replies are printed in order
        let clients: Vec<_> = (0..3)
            .map(|i| weft::spawn(client(addr.port(), format!("hello {i}\n"))))
            .collect();
        for reply in weft::join_all(clients).await {
            println!("received {:?}", reply?);
        }
        server.close()?;
        server.wait_closed().await?; // and every connection it accepted
        println!("server closed");
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// serving on 127.0.0.1
// received "hello 0"
// received "hello 1"
// received "hello 2"
// server closed
