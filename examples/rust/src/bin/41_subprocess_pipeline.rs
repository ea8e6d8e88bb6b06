//! 41: `sort | tr a-z A-Z`, with the parent feeding the first process and
//! copying between the two (asyncio create_subprocess_exec with pipes).
//!
//!   async def pump(src, dst):
//!       while chunk := await src.read(65536):
//!           dst.write(chunk)
//!           await dst.drain()
//!       dst.write_eof()
use weft::net::Stream;
use weft::process::{Command, Stdio};
use weft::Error;

async fn pump(src: Stream, dst: Stream) -> weft::Result<()> {
    loop {
        let chunk = src.read(65536).await?;
        if chunk.is_empty() {
            break;
        }
        dst.write(&chunk)?;
        dst.drain().await?;
    }
    dst.write_eof()
}

fn main() {
    weft::run(async {
        let mut sort = Command::new("sort")
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped)
            .spawn()?;
        let mut tr = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped)
            .spawn()?;
        let (Some(sort_in), Some(sort_out), Some(tr_in), Some(tr_out)) = (
            sort.stdin.take(),
            sort.stdout.take(),
            tr.stdin.take(),
            tr.stdout.take(),
        ) else {
            unreachable!("every pipe was asked for");
        };
        let copy = weft::spawn(pump(sort_out, tr_in));
        sort_in.write(b"pear\napple\nfig\n")?;
        sort_in.write_eof()?;
        let out = tr_out.read_to_end().await?;
        copy.await?;
        let (a, b) = (sort.wait().await?, tr.wait().await?);
        print!("{}", out.to_str()?);
        println!("exit codes: sort {:?}, tr {:?}", a.code(), b.code());
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// APPLE
// FIG
// PEAR
// exit codes: sort Some(0), tr Some(0)
