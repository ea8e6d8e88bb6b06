//! weft futures as Rust futures, values, done callbacks, remote completion.
use std::cell::RefCell;
use std::rc::Rc;

use weft::{AnyValue, Code, Error, Future, Loop, State};

#[test]
fn set_and_read_every_value_type() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        macro_rules! roundtrip {
            ($t:ty, $v:expr) => {{
                let f = weft::create_future::<$t>();
                f.set_result($v).unwrap();
                assert_eq!(f.clone().await.unwrap(), $v);
                assert_eq!(f.result().unwrap(), $v);
            }};
        }
        roundtrip!((), ());
        roundtrip!(bool, true);
        roundtrip!(i32, -7);
        roundtrip!(u32, 7);
        roundtrip!(i64, i64::MIN);
        roundtrip!(u64, 1 << 40);
        roundtrip!(usize, 12);
        roundtrip!(f64, 2.5);
        roundtrip!(Vec<u8>, vec![0u8, 1, 255]);
        roundtrip!(String, "héllo".to_string());
        roundtrip!(AnyValue, AnyValue::None);
        roundtrip!(AnyValue, AnyValue::Int(5));
        roundtrip!(AnyValue, AnyValue::Double(0.5));
        roundtrip!(AnyValue, AnyValue::Bytes(b"xy".to_vec()));
        // a pointer: refused by the safe setter, set with the unsafe one
        let mut x = 5u8;
        let p = &mut x as *mut u8 as *mut std::os::raw::c_void;
        let f = weft::create_future::<AnyValue>();
        assert_eq!(f.set_result(AnyValue::Ptr(p)).unwrap_err().code(), Code::TYPE);
        assert!(!f.is_done());
        // SAFETY: nobody dereferences it; x outlives the future; not owned
        unsafe { f.set_result_ptr(p, None) }.unwrap();
        assert_eq!(f.clone().await.unwrap(), AnyValue::Ptr(p));
        assert_eq!(f.result().unwrap(), AnyValue::Ptr(p));

        // conversions that do not fit
        let f = weft::create_future::<u64>();
        assert_eq!(f.set_result(u64::MAX).unwrap_err().code(), Code::RANGE);
        let g = weft::create_future::<i64>();
        g.set_result(-1).unwrap();
        assert_eq!(g.cast::<u32>().result().unwrap_err().code(), Code::RANGE);
        let h = weft::create_future::<Vec<u8>>();
        h.set_result(vec![0xff, 0xfe]).unwrap();
        assert_eq!(h.cast::<String>().result().unwrap_err().code(), Code(weft::sys::weft_errno::WEFT_ECHARSET));
        let k = weft::create_future::<f64>();
        k.set_result(1.0).unwrap();
        assert_eq!(k.clone().cast::<i64>().result().unwrap_err().code(), Code::TYPE);
        assert_eq!(k.cast::<()>().result(), Ok(()));
    })
    .unwrap();
}

#[test]
fn values_read_after_waiting() {
    // each future is pending when first polled, so the await reads it
    // after the wake-up (the one-call read), in a task and outside one
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        macro_rules! later {
            ($t:ty, $v:expr) => {{
                let f = weft::create_future::<$t>();
                let setter = f.clone();
                weft::call_soon(move || setter.set_result($v).unwrap()).unwrap();
                assert_eq!(f.await.unwrap(), $v);
                let g = weft::create_future::<$t>();
                let setter = g.clone();
                weft::call_soon(move || setter.set_error(&Error::new(-104, Some("reset"))).unwrap()).unwrap();
                assert_eq!(g.await.unwrap_err().message(), Some("reset"));
            }};
        }
        later!((), ());
        later!(bool, true);
        later!(i32, -7);
        later!(u32, 7);
        later!(i64, i64::MIN);
        later!(u64, 1 << 40);
        later!(usize, 12);
        later!(f64, 2.5);
        later!(Vec<u8>, vec![0u8, 1, 255]);
        later!(String, "héllo".to_string());
        later!(AnyValue, AnyValue::Int(5));
        // an int64 result that does not fit the type read
        let f = weft::create_future::<i64>();
        let setter = f.clone();
        weft::call_soon(move || setter.set_result(-1).unwrap()).unwrap();
        assert_eq!(f.cast::<u32>().await.unwrap_err().code(), Code::RANGE);
        // a future that *fails* with the code EPENDING is done, not pending
        for pending_first in [true, false] {
            let f = weft::create_future::<i64>();
            let setter = f.clone();
            let fail = move || setter.set_error(&Error::new(Code::PENDING.0, Some("odd"))).unwrap();
            if pending_first {
                weft::call_soon(fail).unwrap();
            } else {
                fail();
            }
            let err = f.await.unwrap_err();
            assert_eq!((err.code(), err.message()), (Code::PENDING, Some("odd")));
            let u = weft::create_future::<()>();
            let setter = u.clone();
            weft::call_soon(move || setter.set_error(&Error::new(Code::PENDING.0, None)).unwrap()).unwrap();
            assert_eq!(u.await.unwrap_err().code(), Code::PENDING);
        }
    })
    .unwrap();
}

#[test]
fn states_errors_and_cancellation() {
    let lp = Loop::new().unwrap();
    let f = lp.create_future::<i64>();
    assert_eq!(f.state(), State::Pending);
    assert_eq!(f.result().unwrap_err().code(), Code::PENDING);
    assert!(f.describe().contains("pending"), "{}", f.describe());
    assert!(format!("{f:?}").contains("Future"));
    f.set_error(&Error::new(-5, Some("disk on fire"))).unwrap();
    assert_eq!(f.state(), State::Error);
    assert_eq!(f.error_message().as_deref(), Some("disk on fire"));
    let err = f.result().unwrap_err();
    assert_eq!((err.code(), err.message()), (Code(-5), Some("disk on fire")));
    assert_eq!(err.to_string(), "EIO (i/o error): disk on fire");
    assert_eq!(f.set_result(1).unwrap_err().code(), Code::STATE);

    let c = lp.create_future::<()>();
    assert!(c.cancel_with_message(Some("no longer needed")));
    assert!(!c.cancel());
    assert!(c.is_cancelled() && c.is_done());
    assert_eq!(c.result(), Err(Error::Cancelled(Some("no longer needed".into()))));
    let d = lp.create_future::<()>();
    d.set_error(&Error::cancelled(None)).unwrap();
    assert_eq!(d.result(), Err(Error::Cancelled(None)));
    assert_eq!(d.set_error(&Error::cancelled(None)).unwrap_err().code(), Code::STATE);
    assert!(Error::cancelled(None).is_cancelled());
    assert_eq!(Error::cancelled(Some("m")).to_string(), "cancelled: m");
    assert_eq!(Error::new(3, None).code(), Code::INVALID);
    assert_eq!(Code::TIMED_OUT.name(), "ETIMEDOUT");
    assert_eq!(Code::TIMED_OUT.description(), "connection timed out");
    assert_eq!(Code::TIMED_OUT.to_string(), "ETIMEDOUT (connection timed out)");
    let e: Box<dyn std::error::Error> = Box::new(Error::new(-110, None));
    assert_eq!(e.to_string(), "ETIMEDOUT (connection timed out)");
}

#[test]
fn broken_futures_report_their_creation_error() {
    let outside = weft::sleep(1.0);
    assert_eq!(outside.state(), State::Error);
    assert!(outside.as_ptr().is_null());
    assert!(outside.describe().contains("broken"));
    assert!(!outside.cancel());
    assert!(outside.error_message().is_none() && outside.task().is_none() && outside.event_loop().is_none());
    assert_eq!(outside.result().unwrap_err().code(), Code::STATE);
    assert!(outside.remote().is_err());
    assert!(outside.add_done_callback(|_| {}).is_err());
    assert!(outside.clone().into_raw().is_null());
    assert!(weft::create_future::<i64>().set_result(1).is_err());
    assert!(weft::call_soon(|| {}).is_err());
    let lp = Loop::new().unwrap();
    assert_eq!(lp.block_on(outside).unwrap().unwrap_err().code(), Code::STATE);
    let nan = lp.sleep(f64::NAN);
    assert_eq!(nan.result().unwrap_err().code(), Code::INVALID);
}

#[test]
fn done_callbacks_add_and_remove() {
    let lp = Loop::new().unwrap();
    let f = lp.create_future::<i64>();
    let log = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (log.clone(), log.clone());
    f.add_done_callback(move |f| a.borrow_mut().push(f.result().unwrap())).unwrap();
    let id = f.add_done_callback(move |_| b.borrow_mut().push(-1)).unwrap();
    assert!(format!("{id:?}").contains("DoneCallback"));
    assert!(f.remove_done_callback(id));
    f.set_result(9).unwrap();
    lp.run().unwrap();
    assert_eq!(*log.borrow(), vec![9]);
}

#[test]
fn raw_pointers_and_loops() {
    let lp = Loop::new().unwrap();
    let f = lp.create_future::<i64>();
    let raw = f.clone().into_raw();
    let back: Future<i64> = unsafe { Future::from_raw(raw) };
    back.set_result(3).unwrap();
    assert_eq!(f.result(), Ok(3));
    let borrowed: Future<i64> = unsafe { Future::from_borrowed(f.as_ptr()) };
    assert_eq!(borrowed.result(), Ok(3));
    assert_eq!(f.event_loop().unwrap().as_ptr(), lp.as_ptr());
    assert!(f.task().is_none());
    let null: Future<()> = unsafe { Future::from_raw(std::ptr::null_mut()) };
    assert!(null.result().is_err());
}

#[test]
fn remote_future_completes_from_another_thread() {
    let lp = Loop::new().unwrap();
    let r = lp.block_on(async {
        let f = weft::create_future::<String>();
        let remote = f.remote().unwrap();
        let hold = weft::current_loop().unwrap().hold().unwrap();
        let t = std::thread::spawn(move || {
            remote.set_result("from a thread".to_string()).unwrap();
            drop(hold);
        });
        let v = f.await;
        t.join().unwrap();
        let g = weft::create_future::<()>();
        let (r1, r2) = (g.remote().unwrap(), g.remote().unwrap());
        std::thread::spawn(move || r1.set_error(&Error::new(-104, Some("reset"))).unwrap()).join().unwrap();
        let ge = g.await.unwrap_err();
        assert_eq!(r2.cancel(), Ok(())); // queued; ignored since it is done
        let h = weft::create_future::<()>();
        let r3 = h.remote().unwrap();
        std::thread::spawn(move || r3.set_error(&Error::cancelled(Some("remote"))).unwrap()).join().unwrap();
        (v, ge, h.await)
    });
    let (v, ge, he) = r.unwrap();
    assert_eq!(v.unwrap(), "from a thread");
    assert_eq!(ge.message(), Some("reset"));
    assert_eq!(he, Err(Error::Cancelled(Some("remote".into()))));
}

#[test]
fn dropping_the_last_reference_cancels_a_pending_future() {
    let lp = Loop::new().unwrap();
    let f = lp.create_future::<()>();
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    f.add_done_callback(move |f| *s.borrow_mut() = Some(f.is_cancelled())).unwrap();
    drop(f);
    lp.run().unwrap();
    assert_eq!(*seen.borrow(), Some(true));
}
