//! to_thread / run_in_executor: outputs for Rust and C, errors, panics,
//! cancellation of queued and running jobs, loop close.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use weft::{AnyValue, Code, Error, Local, Loop, SendPtr, WorkOutput};

#[test]
fn outputs_reach_rust_and_c() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let a = weft::to_thread(|| 6i64 * 7);
        let fa = a.future().clone();
        assert_eq!(a.await, Ok(42));
        assert_eq!(fa.result(), Ok(AnyValue::Int(42)));
        let b = weft::to_thread(|| String::from("text"));
        let fb = b.future().clone();
        assert_eq!(b.await.unwrap(), "text");
        assert_eq!(fb.result(), Ok(AnyValue::Bytes(b"text".to_vec())));
        assert_eq!(weft::to_thread(|| vec![1u8, 2]).await, Ok(vec![1, 2]));
        assert_eq!(weft::to_thread(|| 0.5f64).await, Ok(0.5));
        assert_eq!(weft::to_thread(|| true).await, Ok(true));
        assert_eq!(weft::to_thread(|| 7u32).await, Ok(7));
        assert_eq!(weft::to_thread(|| 7i32).await, Ok(7));
        assert_eq!(weft::to_thread(|| 7usize).await, Ok(7));
        // out of int64's range: Rust gets it, C sees no value
        let big = weft::to_thread(|| u64::MAX);
        let fbig = big.future().clone();
        assert_eq!(big.await, Ok(u64::MAX));
        assert_eq!(fbig.result(), Ok(AnyValue::None));
        // Local: any Send value, C sees no value
        let c = weft::to_thread(|| Local(vec![String::from("x")]));
        let fc = c.future().clone();
        assert_eq!(c.await.unwrap(), Local(vec![String::from("x")]));
        assert_eq!(fc.result(), Ok(AnyValue::None));
        static CELL: u8 = 3;
        let p = &CELL as *const u8 as *mut std::ffi::c_void;
        let addr = p as usize; // (a raw pointer is not Send; SendPtr is)
        let d = weft::to_thread(move || {
            // SAFETY: a static byte: every reader may read it, forever
            unsafe { SendPtr::new(addr as *mut std::ffi::c_void) }
        });
        let fd = d.future().clone();
        assert_eq!(d.await.map(SendPtr::as_ptr), Ok(p));
        assert_eq!(fd.result(), Ok(AnyValue::Ptr(p)));
        assert_eq!(weft::to_thread(|| ()).await, Ok(()));
        // a generic helper over what closures may return
        async fn offload<R: WorkOutput>(f: impl FnOnce() -> R + Send + 'static) -> weft::Result<R::Ok> {
            weft::to_thread(f).await
        }
        assert_eq!(offload(|| 3i64).await, Ok(3));
        // the pool runs it on another thread
        let here = std::thread::current().id();
        let there = weft::to_thread(move || Local(std::thread::current().id())).await.unwrap().0;
        assert_ne!(here, there);
    })
    .unwrap();
}

#[test]
fn errors_and_panics() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let e = weft::to_thread(|| -> weft::Result<i64> { Err(Error::new(-5, Some("disk"))) });
        let fe = e.future().clone();
        assert_eq!(e.await, Err(Error::new(-5, Some("disk"))));
        assert_eq!(fe.result(), Err(Error::new(-5, Some("disk"))));
        let ok = weft::to_thread(|| -> weft::Result<String> { Ok("fine".into()) }).await;
        assert_eq!(ok.unwrap(), "fine");
        let c = weft::to_thread(|| -> weft::Result<()> { Err(Error::cancelled(None)) });
        let fc = c.future().clone();
        assert!(c.await.unwrap_err().is_cancelled());
        assert!(fc.is_cancelled());
        let p = weft::to_thread(|| -> i64 { panic!("pool panic") });
        let fp = p.future().clone();
        let err = p.await.unwrap_err();
        assert!(err.is_panic() && err.message().unwrap().contains("pool panic"), "{err}");
        assert_eq!(fp.result().unwrap_err().code(), Code::UNHANDLED);
        assert!(format!("{:?}", weft::to_thread(|| 1i64)).contains("ToThread"));
    })
    .unwrap();
    // outside a running loop
    let r = lp.block_on(async {}).map(|_| weft::to_thread(|| 1i64));
    let orphan = r.unwrap();
    assert!(orphan.future().result().is_err());
    assert!(!weft::work_cancelled()); // not a pool job
}

#[test]
fn cancel_a_queued_and_a_running_job() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        // fill the pool (4 threads unless UV_THREADPOOL_SIZE says otherwise)
        // with jobs that wait for us
        let n: usize =
            std::env::var("UV_THREADPOOL_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(4).clamp(1, 1024);
        let (tx, rx) = mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let started = Arc::new(AtomicUsize::new(0));
        let saw_cancel = Arc::new(AtomicBool::new(false));
        // each job says when it has looked at its flag: the cancelled job's
        // future is done at once, so awaiting it does not wait for the job
        let (seen_tx, seen_rx) = mpsc::channel::<()>();
        let mut blockers = Vec::new();
        for _ in 0..n {
            let (rx, started, saw, seen) = (rx.clone(), started.clone(), saw_cancel.clone(), seen_tx.clone());
            blockers.push(weft::to_thread(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = rx.lock().unwrap().recv();
                if weft::work_cancelled() {
                    saw.store(true, Ordering::SeqCst);
                }
                let _ = seen.send(());
                1i64
            }));
        }
        while started.load(Ordering::SeqCst) < n {
            std::thread::sleep(Duration::from_millis(1)); // (the pool starts them without the loop)
        }
        // queued behind them: cancelled before it runs, never runs
        let ran = Arc::new(AtomicBool::new(false));
        let ran2 = ran.clone();
        let queued = weft::to_thread(move || ran2.store(true, Ordering::SeqCst));
        assert!(queued.cancel());
        assert!(queued.await.unwrap_err().is_cancelled());
        // a running one cancelled: it sees work_cancelled, its output is dropped
        let first = blockers.remove(0);
        assert!(first.cancel());
        // the cancellation reaches the job from the loop: its done callback,
        // queued before this task yields, sets the job's flag
        weft::yield_now().await;
        for _ in 0..n {
            tx.send(()).unwrap();
        }
        assert!(first.await.unwrap_err().is_cancelled());
        for b in blockers {
            assert_eq!(b.await, Ok(1));
        }
        for _ in 0..n {
            seen_rx.recv().unwrap(); // (the jobs need nothing from the loop to finish)
        }
        assert!(saw_cancel.load(Ordering::SeqCst));
        assert!(!ran.load(Ordering::SeqCst));
    })
    .unwrap();
}

#[test]
fn cancel_the_task_awaiting_a_job() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let (tx, rx) = mpsc::channel::<()>();
        let waiter = weft::spawn(async move {
            weft::to_thread(move || {
                let _ = rx.recv();
                2i64
            })
            .await
        });
        weft::yield_now().await;
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        tx.send(()).unwrap();
    })
    .unwrap();
}

#[test]
fn loop_close_waits_for_running_jobs() {
    let lp = Loop::new().unwrap();
    let lr = lp.handle();
    lr.set_work_close_timeout(30.0).unwrap();
    assert_eq!(lr.set_work_close_timeout(-1.0).unwrap_err().code(), Code::INVALID);
    let done = Arc::new(AtomicBool::new(false));
    let (d2, started) = (done.clone(), Arc::new(AtomicBool::new(false)));
    let s2 = started.clone();
    let job = lr.run_in_executor(move || {
        s2.store(true, Ordering::SeqCst);
        while !weft::work_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        d2.store(true, Ordering::SeqCst);
        Local(vec![1, 2, 3])
    });
    // another job, done or not by the close
    let quick = lr.run_in_executor(|| 5i64);
    while !started.load(Ordering::SeqCst) {
        lp.run_mode(weft::RunMode::NoWait).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(lp); // cancels the jobs and waits for the running one
    assert!(done.load(Ordering::SeqCst));
    assert!(job.future().is_cancelled());
    drop((job, quick));
    assert_eq!(lr.set_work_close_timeout(1.0).unwrap_err().code(), Code::CLOSED);
    let closed = lr.run_in_executor(|| 1i64);
    assert_eq!(closed.future().result().unwrap_err().code(), Code::CLOSED);
}
