//! 53: copy a file in chunks with futures, then check the copy (asyncio
//! has no file API; this is aiofiles' shape).  Each open, read, write and
//! close runs on libuv's thread pool; the whole-file calls make the source
//! and check the copy.
use weft::fs::{self, File};
use weft::Error;

const SIZE: usize = 300_000;
const CHUNK: usize = 64 * 1024;

fn main() {
    let dir = std::env::temp_dir().join(format!("weft-53-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("source"), dir.join("copy"));
    weft::run(async {
        let content: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(&src, &content).await?;
        let fin = File::open(&src).await?;
        let fout = File::create(&dst).await?;
        let mut copied = 0;
        loop {
            let chunk = fin.read(CHUNK).await?;
            if chunk.is_empty() {
                break;
            }
            copied += fout.write(&chunk).await?;
        }
        fin.close().await?;
        fout.close().await?;
        println!("copied {copied} bytes");
        let back = fs::read(&dst).await?;
        println!(
            "the copy is {}",
            if back == content {
                "identical"
            } else {
                "DIFFERENT"
            }
        );
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

// Output:
// copied 300000 bytes
// the copy is identical
