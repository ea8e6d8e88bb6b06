//! Files: whole-file reads and writes, open options, offset I/O, close,
//! errors, cancelled requests, descriptors.
mod io_util;

use io_util::{run, temp_dir};
use weft::fs::{self, File, OpenOptions};
use weft::{Bytes, Code};

const ENOENT: Code = Code(weft::sys::weft_errno::WEFT_ENOENT);
const EEXIST: Code = Code(weft::sys::weft_errno::WEFT_EEXIST);
const EBADF: Code = Code(weft::sys::weft_errno::WEFT_EBADF);
const EISDIR: Code = Code(weft::sys::weft_errno::WEFT_EISDIR);
const EOBJCLOSED: Code = Code(weft::sys::weft_errno::WEFT_EOBJCLOSED);
const ECHARSET: Code = Code(weft::sys::weft_errno::WEFT_ECHARSET);

#[test]
fn whole_files() {
    let _g = io_util::serial();
    let dir = temp_dir("whole");
    let p = dir.join("a.bin");
    let d2 = dir.clone();
    run(async move {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(fs::write(&p, &data).await.unwrap(), data.len());
        let back: Bytes = fs::read(&p).await.unwrap();
        assert_eq!(back, data);
        assert_eq!(fs::write(&p, b"").await.unwrap(), 0);
        assert!(fs::read(&p).await.unwrap().is_empty());
        fs::write(&p, [0xffu8, 0xfe]).await.unwrap();
        assert_eq!(fs::read_to_string(&p).await.unwrap_err().code(), ECHARSET);
        fs::write(&p, "text").await.unwrap();
        assert_eq!(fs::read_to_string(&p).await.unwrap(), "text");
        let missing = fs::read(d2.join("missing")).await.unwrap_err();
        assert_eq!(missing.code(), ENOENT);
        assert!(missing.message().unwrap_or("").contains("missing"));
        assert_eq!(fs::read(&d2).await.unwrap_err().code(), EISDIR);
        assert_eq!(fs::read("bad\0path").await.unwrap_err().code(), Code::INVALID);
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn open_files_and_offsets() {
    let _g = io_util::serial();
    let dir = temp_dir("open");
    let p = dir.join("f.txt");
    run(async {
        let f: File = File::create(&p).await.unwrap();
        assert_eq!(f.write(b"hello ").await.unwrap(), 6);
        assert_eq!(f.write(b"world").await.unwrap(), 5);
        assert_eq!(f.write_at(0, b"J").await.unwrap(), 1);
        // opened for writing only
        assert_eq!(f.read(4).await.unwrap_err().code(), EBADF);
        f.close().await.unwrap();
        assert_eq!(f.write(b"x").await.unwrap_err().code(), EOBJCLOSED);
        assert_eq!(f.close().await.unwrap_err().code(), EOBJCLOSED);

        let r = File::open(&p).await.unwrap();
        assert_eq!(r.read(5).await.unwrap(), b"Jello");
        assert_eq!(r.read(100).await.unwrap(), b" world");
        assert!(r.read(100).await.unwrap().is_empty());
        assert_eq!(r.read_at(6, 3).await.unwrap(), b"wor");
        assert!(r.read_at(1000, 3).await.unwrap().is_empty());
        assert_eq!(r.write(b"no").await.unwrap_err().code(), EBADF);
        let r2 = r.clone();
        drop(r); // the clone keeps it open
        assert_eq!(r2.read_at(0, 1).await.unwrap(), b"J");
        drop(r2); // the last reference closes the descriptor

        let a = OpenOptions::new().append(true).open(&p).await.unwrap();
        a.write(b"!").await.unwrap();
        a.write_at(0, b"?").await.unwrap(); // append: at the end anyway
        drop(a);
        assert_eq!(fs::read(&p).await.unwrap(), b"Jello world!?");
        let rw = File::options().read(true).write(true).open(&p).await.unwrap();
        rw.write_at(1, b"E").await.unwrap();
        assert_eq!(rw.read_at(0, 2).await.unwrap(), b"JE");
        rw.close().await.unwrap();
        let t = OpenOptions::default().write(true).truncate(true).open(&p).await.unwrap();
        t.close().await.unwrap();
        assert!(fs::read(&p).await.unwrap().is_empty());
        assert_eq!(OpenOptions::new().write(true).create_new(true).open(&p).await.unwrap_err().code(), EEXIST);
        let q = dir.join("new");
        let n = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&q).await.unwrap();
        n.close().await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&q).unwrap().permissions().mode() & 0o777, 0o600);
        // neither read nor write
        assert_eq!(OpenOptions::new().open(&p).await.unwrap_err().code(), Code::INVALID);
        assert_eq!(File::open(dir.join("nope")).await.unwrap_err().code(), ENOENT);
        assert!(!format!("{n:?}").is_empty());
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cancelled_and_abandoned_requests() {
    let _g = io_util::serial();
    let dir = temp_dir("cancel");
    let p = dir.join("c.bin");
    let kept = run(async {
        fs::write(&p, vec![1u8; 1 << 20]).await.unwrap();
        let f = File::open(&p).await.unwrap();
        // started or not, a cancelled read gives its cancellation
        let op = f.read_at(0, 1 << 20);
        op.cancel();
        assert!(op.await.unwrap_err().is_cancelled());
        drop(f.read_at(0, 10));
        drop(fs::read(&p));
        drop(File::open(&p));
        let op = fs::write(dir.join("w"), b"abc");
        if op.cancel() {
            assert!(op.await.unwrap_err().is_cancelled());
        }
        // a file still open at the loop's close is closed by it (run
        // counts the descriptors before this handle goes)
        f
    });
    drop(kept);
    std::fs::remove_dir_all(dir).unwrap();
}
