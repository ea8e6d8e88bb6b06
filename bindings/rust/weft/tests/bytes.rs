//! Bytes: read in place from a weft future, compared, hashed, copied.
use std::collections::HashSet;

use weft::{Bytes, Code, Loop};

#[test]
fn bytes_from_futures() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let f = weft::create_future::<Bytes>();
        let src = weft::create_future::<Vec<u8>>();
        src.set_result(b"abc\x00\xff".to_vec()).unwrap();
        let b = src.clone().cast::<Bytes>().await.unwrap();
        f.set_result(b.clone()).unwrap();
        let c = f.await.unwrap();
        assert_eq!(c, b);
        assert_eq!(c, b"abc\x00\xff");
        assert_eq!(c.as_slice(), &b"abc\x00\xff"[..]);
        assert_eq!(c.len(), 5);
        assert_eq!(format!("{c:?}"), "b\"abc\\x00\\xff\"");
        assert_eq!(c.to_str().unwrap_err().code(), Code(weft::sys::weft_errno::WEFT_ECHARSET));
        let v: Vec<u8> = c.clone().into();
        assert_eq!(v, c.to_vec());
        let set: HashSet<Bytes> = [b.clone(), c.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        drop(src);
        // the bytes stay valid while a Bytes holds the future
        assert_eq!(&b[..3], b"abc");
        let empty = Bytes::new();
        assert!(empty.is_empty() && empty == Bytes::default());
        assert_eq!(AsRef::<[u8]>::as_ref(&empty), b"");
        let s = weft::create_future::<String>();
        s.set_result("héllo".into()).unwrap();
        assert_eq!(s.cast::<Bytes>().await.unwrap().to_str().unwrap(), "héllo");
        // a result of another type
        let i = weft::create_future::<i64>();
        i.set_result(1).unwrap();
        assert_eq!(i.cast::<Bytes>().result().unwrap_err().code(), Code::TYPE);
    })
    .unwrap();
}
