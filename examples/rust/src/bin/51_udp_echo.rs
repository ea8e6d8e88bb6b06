//! 51: a UDP echo server and a client as two tasks (asyncio's datagram
//! endpoint, with awaitable receives instead of protocol callbacks).  The
//! client resolves "localhost" first (UDP sockets take numeric
//! addresses), connects, and awaits each reply under wait_for, so a lost
//! datagram would end in a timeout rather than a hang.
use std::net::SocketAddr;

use weft::dns::{self, Family, Hints, SockType};
use weft::net::UdpSocket;

async fn server(sock: UdpSocket) -> weft::Result<()> {
    loop {
        let d = sock.recv().await?;
        println!("server: {} bytes from 127.0.0.1", d.data().len());
        sock.send_to(d.data(), d.addr()).await?;
        if d.data() == b"bye" {
            return Ok(());
        }
    }
}

async fn client(port: u16) -> weft::Result<()> {
    let hints = Hints {
        family: Family::Inet,
        socktype: SockType::Datagram,
        ..Hints::default()
    };
    let info = dns::getaddrinfo(Some("localhost"), Some(&port.to_string()), hints).await?;
    let to: SocketAddr = info.entries[0].addr;
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(to)?;
    for msg in ["hello", "world", "bye"] {
        sock.send(msg.as_bytes()).await?;
        let reply = weft::wait_for(sock.recv(), 5.0).await?;
        println!("client: reply {:?}", String::from_utf8_lossy(reply.data()));
    }
    Ok(())
}

fn main() {
    weft::run(async {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        let port = sock.local_addr()?.port();
        println!("server: listening on {}", sock.local_addr()?.ip());
        let s = weft::spawn(server(sock));
        client(port).await?;
        s.await
    })
    .unwrap()
    .unwrap();
}

// Output:
// server: listening on 127.0.0.1
// server: 5 bytes from 127.0.0.1
// client: reply "hello"
// server: 5 bytes from 127.0.0.1
// client: reply "world"
// server: 3 bytes from 127.0.0.1
// client: reply "bye"
