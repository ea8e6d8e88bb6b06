//! What used to let safe code cause undefined behaviour, now an error:
//! pointer results written from safe code, operation futures completed by
//! hand through `Task::awaiting`, one future read under several types, and
//! queue items of another type.  (The rules: lib.rs, "Soundness".)
mod io_util;

use std::os::raw::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};

use io_util::run;
use weft::net::{Server, Stream, UdpSocket};
use weft::{AnyValue, Code, Error, Future, Local, Loop, Queue, State, Task};

/// A pointer nobody may dereference: the safe setters must refuse it.
const BOGUS: *mut c_void = 0x10 as *mut c_void;

static RELEASED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn release_box(p: *mut c_void) {
    drop(Box::from_raw(p as *mut u32));
    RELEASED.fetch_add(1, Ordering::SeqCst);
}

fn refused(err: &Error) {
    assert_eq!(err.code(), Code::TYPE, "{err}");
    assert!(err.message().is_some_and(|m| m.contains("set_result_ptr")), "{err}");
}

#[test]
fn safe_setters_refuse_pointers() {
    let _serial = io_util::serial(); // (the I/O test counts descriptors)
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        // Future::set_result: refused, the future stays pending
        let f = weft::create_future::<AnyValue>();
        refused(&f.set_result(AnyValue::Ptr(BOGUS)).unwrap_err());
        refused(&f.set_result(AnyValue::Ptr(null_mut())).unwrap_err());
        assert_eq!(f.state(), State::Pending);
        // the unsafe setter: the future owns the box and releases it once
        let p = Box::into_raw(Box::new(7u32)) as *mut c_void;
        // SAFETY: nobody dereferences it but us; the future owns the box
        unsafe { f.set_result_ptr(p, Some(release_box)) }.unwrap();
        assert_eq!(f.clone().await, Ok(AnyValue::Ptr(p)));
        // done: a second pointer is ESTATE, and stays ours
        let q = Box::into_raw(Box::new(8u32)) as *mut c_void;
        assert_eq!(unsafe { f.set_result_ptr(q, Some(release_box)) }.unwrap_err().code(), Code::STATE);
        unsafe { release_box(q) };
        drop(f);
        weft::sleep(0.0).await.unwrap(); // the release runs from the loop
        assert_eq!(RELEASED.load(Ordering::SeqCst), 2);

        // RemoteFuture::set_result, from another thread: refused at once
        let g = weft::create_future::<AnyValue>();
        let remote = g.remote().unwrap();
        let addr = BOGUS as usize;
        let r = std::thread::spawn(move || {
            let e = remote.set_result(AnyValue::Ptr(addr as *mut c_void)).unwrap_err();
            // SAFETY: nobody dereferences it; not owned
            unsafe { remote.set_result_ptr(addr as *mut c_void, None) }.unwrap();
            e
        })
        .join()
        .unwrap();
        refused(&r);
        assert_eq!(g.await, Ok(AnyValue::Ptr(BOGUS)));

        // a task's output: C sees ETYPE (with why), Rust gets its value back
        let t = weft::spawn(async { AnyValue::Ptr(BOGUS) });
        let c_side = t.future::<AnyValue>();
        assert_eq!(t.await, Ok(AnyValue::Ptr(BOGUS)));
        let err = c_side.result().unwrap_err();
        assert_eq!(err.code(), Code::TYPE);
        assert!(err.message().is_some_and(|m| m.contains("task's output")), "{err}");
        let t = weft::spawn(async { Ok::<_, Error>(AnyValue::Ptr(BOGUS)) });
        let c_side = t.task().unwrap();
        assert_eq!(t.await, Ok(AnyValue::Ptr(BOGUS)));
        assert_eq!(c_side.future::<AnyValue>().result().unwrap_err().code(), Code::TYPE);

        // to_thread: a pointer output needs the unsafe SendPtr::new
        // SAFETY: nobody dereferences it
        let sp = unsafe { weft::SendPtr::new(BOGUS) };
        assert_eq!(weft::to_thread(move || sp).await.map(weft::SendPtr::as_ptr), Ok(BOGUS));
    })
    .unwrap();
    lp.close().unwrap();
}

/// Spawns `op` as a task, and once its first step has run (it awaits the
/// operation's future natively), hands that future to `tamper`; gives the
/// task's outcome.
async fn tampered<T: 'static>(
    op: impl std::future::Future<Output = weft::Result<T>> + 'static,
    tamper: impl FnOnce(Future<AnyValue>) + 'static,
) -> weft::Result<T> {
    let h = weft::spawn(async move { op.await.map(Local) });
    let task: Task = h.task().unwrap();
    let seen = std::rc::Rc::new(std::cell::Cell::new(false));
    let s = seen.clone();
    // runs after the task's first step (FIFO), before any I/O completes
    weft::call_soon(move || {
        let f = task.awaiting().expect("the task awaits its operation");
        assert!(!f.is_done());
        s.set(true);
        tamper(f)
    })
    .unwrap();
    let out = h.await.map(|l| l.0);
    assert!(seen.get(), "the operation's future was reached");
    out
}

/// The hand-made outcomes: a pointer is refused, a value is taken.
fn pointer_then_int(f: Future<AnyValue>) {
    refused(&f.set_result(AnyValue::Ptr(BOGUS)).unwrap_err());
    assert!(!f.is_done());
    f.set_result(AnyValue::Int(7)).unwrap();
}

#[test]
fn operation_futures_completed_by_hand_fail_cleanly() {
    run(async {
        // a connect (decoded as a stream): its C future reached through
        // Task::awaiting
        let server = Server::bind("127.0.0.1", 0).await.unwrap();
        let port = server.local_addr().unwrap().port();
        let r = tampered(Stream::connect("127.0.0.1", port), pointer_then_int).await;
        let err = r.map(drop).unwrap_err();
        assert!(err.code() == Code::INVALID || err.code() == Code::TYPE, "{err}");
        // the same, cancelled by hand instead
        let r = tampered(Stream::connect("127.0.0.1", port), |f| assert!(f.cancel())).await;
        assert!(r.map(drop).unwrap_err().is_cancelled());
        server.close().unwrap();
        server.wait_closed().await.unwrap();

        // a read (bytes): completed by hand, then the stream still works (a
        // new server: the one above may hold the connects given up on)
        let server = Server::bind("127.0.0.1", 0).await.unwrap();
        let port = server.local_addr().unwrap().port();
        let client = Stream::connect("127.0.0.1", port).await.unwrap();
        let peer = server.accept().await.unwrap();
        let c2 = client.clone();
        let r = tampered(async move { c2.read(100).await }, pointer_then_int).await;
        assert_eq!(r.map(drop).unwrap_err().code(), Code::TYPE);
        peer.write(b"after").unwrap();
        assert_eq!(client.read(100).await.unwrap(), b"after");
        let c2 = client.clone();
        let r = tampered(async move { c2.read(100).await }, |f| {
            f.set_result(AnyValue::Bytes(b"made up".to_vec())).unwrap()
        })
        .await;
        assert_eq!(r.unwrap(), b"made up");
        peer.write(b"real").unwrap();
        assert_eq!(client.read(100).await.unwrap(), b"real");
        peer.close().unwrap();
        client.close().unwrap();
        client.wait_closed().await.unwrap();

        // a receive (decoded as a datagram)
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let s2 = sock.clone();
        let r = tampered(async move { s2.recv().await }, pointer_then_int).await;
        assert_eq!(r.map(drop).unwrap_err().code(), Code::TYPE);
        sock.close().unwrap();

        // a file open (decoded as a file)
        let r = tampered(weft::fs::File::open("/dev/null"), pointer_then_int).await;
        assert_eq!(r.map(drop).unwrap_err().code(), Code::TYPE);

        // a lookup (decoded as an address list)
        let hints = weft::dns::Hints { flags: weft::dns::AiFlags::NUMERICHOST, ..Default::default() };
        let r = tampered(weft::dns::getaddrinfo(Some("127.0.0.1"), Some("80"), hints), pointer_then_int).await;
        assert_eq!(r.map(drop).unwrap_err().code(), Code::TYPE);

        server.close().unwrap();
        server.wait_closed().await.unwrap();
        // let the C operations finish on their own and drop what they made
        weft::sleep(0.05).await.unwrap();
    });
}

#[test]
fn one_future_under_several_types() {
    let _serial = io_util::serial(); // (the I/O test counts descriptors)
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        // a Local output is not in the C future: other views read no value
        let h = weft::spawn(async {
            weft::sleep(1.0).await?;
            Ok::<_, Error>(Local(String::from("only Rust reads this")))
        });
        let (as_int, as_text, as_any) = (h.future::<i64>(), h.future::<String>(), h.future::<AnyValue>());
        // and nobody but the task completes a task's future
        assert_eq!(as_any.set_result(AnyValue::Int(1)).unwrap_err().code(), Code::STATE);
        refused(&as_any.set_result(AnyValue::Ptr(BOGUS)).unwrap_err());
        // SAFETY: refused before anyone could read it
        assert_eq!(unsafe { as_any.set_result_ptr(BOGUS, None) }.unwrap_err().code(), Code::STATE);
        let task = h.task().unwrap();
        assert_eq!(task.future::<i64>().set_result(5).unwrap_err().code(), Code::STATE);
        assert_eq!(h.await.unwrap().0, "only Rust reads this");
        assert_eq!(as_int.result().unwrap_err().code(), Code::TYPE);
        assert_eq!(as_text.result().unwrap_err().code(), Code::TYPE);
        assert_eq!(as_any.result(), Ok(AnyValue::None));

        // a plain future: every cast is a plain read of what it holds
        let f = weft::create_future::<i64>();
        f.set_result(5).unwrap();
        assert_eq!(f.clone().cast::<String>().result().unwrap_err().code(), Code::TYPE);
        assert_eq!(f.clone().cast::<f64>().result().unwrap_err().code(), Code::TYPE);
        assert_eq!(f.clone().cast::<Vec<u8>>().result().unwrap_err().code(), Code::TYPE);
        assert_eq!(f.clone().cast::<weft::Bytes>().result().unwrap_err().code(), Code::TYPE);
        assert_eq!(f.cast::<AnyValue>().result(), Ok(AnyValue::Int(5)));
    })
    .unwrap();
    lp.close().unwrap();
}

#[test]
fn queue_items_of_another_type_are_refused() {
    let _serial = io_util::serial(); // (the I/O test counts descriptors)
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let texts = Queue::<String>::new(0).unwrap();
        let bytes = Queue::<Vec<u8>>::new(0).unwrap();
        // moves the next item of `texts` into `bytes` (what only unsafe
        // code can do)
        let smuggle = || {
            let mut p: *mut c_void = null_mut();
            // SAFETY: live queues; the item box is ours between the calls
            unsafe {
                assert_eq!(weft::sys::weft_queue_get_nowait(texts.as_ptr(), &mut p), 0);
                assert_eq!(weft::sys::weft_queue_put_nowait(bytes.as_ptr(), p), 0);
            }
        };
        for s in ["one", "two", "three"] {
            texts.put_nowait(s.repeat(20)).unwrap();
        }
        // get_nowait: ETYPE, and the String is dropped as a String
        smuggle();
        let err = bytes.get_nowait().unwrap_err();
        assert_eq!(err.code(), Code::TYPE);
        assert!(err.message().is_some_and(|m| m.contains("Vec<u8>")), "{err}");
        // get: ETYPE; the get future drops the item
        smuggle();
        assert_eq!(bytes.get().await.unwrap_err().code(), Code::TYPE);
        // left in the queue: dropped with it
        smuggle();
        bytes.put_nowait(b"real".to_vec()).unwrap();
        assert_eq!(bytes.qsize(), 2);
        assert!(texts.is_empty());
        // the real items still flow
        assert_eq!(bytes.get_nowait().unwrap_err().code(), Code::TYPE);
        assert_eq!(bytes.get().await.unwrap(), b"real".to_vec());
        texts.put_nowait(String::from("fine")).unwrap();
        assert_eq!(texts.get().await.unwrap(), "fine");
        smuggle_left(&texts, &bytes);
    })
    .unwrap();
    lp.close().unwrap();
}

/// One foreign item left in `bytes` when it is dropped (valgrind: freed).
fn smuggle_left(texts: &Queue<String>, bytes: &Queue<Vec<u8>>) {
    texts.put_nowait(String::from("left behind")).unwrap();
    let mut p: *mut c_void = null_mut();
    // SAFETY: as in smuggle
    unsafe {
        assert_eq!(weft::sys::weft_queue_get_nowait(texts.as_ptr(), &mut p), 0);
        assert_eq!(weft::sys::weft_queue_put_nowait(bytes.as_ptr(), p), 0);
    }
    assert_eq!(bytes.qsize(), 1);
}

/// Completing a sleep future by hand (`weft_future_set_*`, which safe code
/// reaches through `Future::set_result` on `weft::sleep()` or
/// `Task::awaiting`) stops its timer, as cancelling does: a timer left in
/// the loop's heap would point into the freed future and later sleeps would
/// hang or worse (fixed in impl/future.c, `weft__settle_owned`; a watchdog
/// aborts instead of hanging if it comes back).
#[test]
fn sleep_completed_by_hand_leaves_no_timer() {
    let _serial = io_util::serial();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        if !d.load(Ordering::SeqCst) {
            eprintln!("sleep_completed_by_hand_leaves_no_timer: the loop hangs (the freed sleep's timer)");
            std::process::abort();
        }
    });
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let s = weft::sleep(1.0);
        s.set_result(()).unwrap();
        assert_eq!(s.await, Ok(()));
        // the freed sleep's memory is reused by the next one
        weft::sleep(2.0).await.unwrap();
        weft::sleep(3.0).await.unwrap();
    })
    .unwrap();
    lp.close().unwrap();
    done.store(true, Ordering::SeqCst);
}
