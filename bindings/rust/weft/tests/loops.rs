//! Loops, callbacks, the exception handler, hooks, introspection, threads.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::{Code, Error, Loop, LoopRef, RunMode};

#[test]
fn versions_agree() {
    assert_eq!(weft::version_hex(), weft::HEADER_VERSION);
    assert_eq!(weft::version(), "0.1.0");
}

#[test]
fn loop_lifecycle() {
    let lp = Loop::new().unwrap();
    assert!(!lp.as_ptr().is_null());
    assert!(!lp.is_closed());
    assert!(!lp.is_running());
    assert!(LoopRef::current().is_none());
    assert!(weft::current_loop().is_err());
    let h = lp.handle();
    assert_eq!(h, *lp);
    let same = unsafe { LoopRef::from_borrowed(lp.as_ptr()) }.unwrap();
    assert_eq!(same.as_ptr(), lp.as_ptr());
    assert!(unsafe { LoopRef::from_borrowed(std::ptr::null_mut()) }.is_none());
    let inside = lp
        .block_on(async {
            let cur = weft::current_loop().unwrap();
            (cur.is_running(), LoopRef::current().is_some())
        })
        .unwrap();
    assert_eq!(inside, (true, true));
    lp.run().unwrap();
    lp.run_mode(RunMode::NoWait).unwrap();
    lp.call_soon(|| {}).unwrap();
    lp.run_mode(RunMode::Once).unwrap();
    lp.stop().unwrap();
    lp.run_mode(RunMode::Forever).unwrap(); // stop before run: returns after one round
    lp.close().unwrap();
    assert!(lp.is_closed());
    assert!(h.is_closed());
    lp.close().unwrap(); // closing twice is fine
    assert_eq!(lp.run().unwrap_err().code(), Code::CLOSED);
    assert_eq!(lp.block_on(async {}).unwrap_err().code(), Code::CLOSED);
}

#[test]
fn virtual_clock_and_advance() {
    let lp = Loop::new_virtual().unwrap();
    assert_eq!(lp.time(), 0.0);
    lp.advance(2.5).unwrap();
    assert_eq!(lp.time(), 2.5);
    lp.advance(Duration::from_millis(500)).unwrap();
    assert_eq!(lp.time(), 3.0);
    assert!(lp.advance(-1.0).is_err());
    let real = Loop::new().unwrap();
    assert_eq!(real.advance(1.0f32).unwrap_err().code(), Code::STATE);
}

#[test]
fn run_until_and_deadlock() {
    let lp = Loop::new_virtual().unwrap();
    let f = lp.sleep(1.0);
    lp.run_until(&f).unwrap();
    assert!(f.is_done());
    let never = lp.create_future::<()>();
    assert_eq!(lp.run_until(&never).unwrap_err().code(), Code::DEADLOCK);
    let r = lp.block_on(async { weft::create_future::<()>().await });
    assert_eq!(r.unwrap_err().code(), Code::DEADLOCK);
}

#[test]
fn block_on_borrows_and_nests() {
    let lp = Loop::new_virtual().unwrap();
    let mut local = vec![1, 2];
    let lp2 = lp.handle();
    lp.block_on(async {
        local.push(3);
        // block_on inside the running loop is refused
        assert_eq!(lp2.block_on(async {}).unwrap_err().code(), Code::RUNNING);
        assert_eq!(weft::run(async {}).unwrap_err().code(), Code::RUNNING);
    })
    .unwrap();
    assert_eq!(local, vec![1, 2, 3]);
}

#[test]
fn callbacks_run_in_order_and_cancel() {
    let lp = Loop::new_virtual().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let (a, b, c, d) = (log.clone(), log.clone(), log.clone(), log.clone());
    lp.call_later(2.0, move || a.borrow_mut().push("later")).unwrap();
    let at = lp.call_at(1.0, move || b.borrow_mut().push("at")).unwrap();
    assert_eq!(at.when(), 1.0);
    lp.call_soon(move || c.borrow_mut().push("soon")).unwrap();
    let cancelled = lp.call_soon(move || d.borrow_mut().push("never")).unwrap();
    let copy = cancelled.clone();
    assert!(cancelled.cancel());
    assert!(!copy.cancel());
    assert!(copy.is_cancelled());
    assert!(!at.is_cancelled());
    assert!(format!("{at:?}").contains("when"));
    lp.run().unwrap();
    assert_eq!(*log.borrow(), vec!["soon", "at", "later"]);
    // dropped unrun callbacks are released at close
    let dropped = Rc::new(());
    let keep = dropped.clone();
    lp.call_later(100.0, move || drop(keep)).unwrap();
    assert_eq!(Rc::strong_count(&dropped), 2);
    lp.close().unwrap();
    assert_eq!(Rc::strong_count(&dropped), 1);
    assert_eq!(lp.call_soon(|| {}).unwrap_err().code(), Code::CLOSED);
}

#[test]
fn panics_in_callbacks_reach_the_exception_handler() {
    let lp = Loop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(move |ctx: &weft::ExceptionContext| {
        s.borrow_mut().push((ctx.code, ctx.message.clone(), ctx.future.is_some()));
    }))
    .unwrap();
    lp.call_soon(|| panic!("boom")).unwrap();
    lp.call_exception_handler::<()>(Code::BUSY, "reported by hand", None).unwrap();
    let f = lp.create_future::<()>();
    f.add_done_callback(|_| panic!("in a done callback")).unwrap();
    f.set_result(()).unwrap();
    lp.run().unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3);
    assert!(seen.contains(&(Code::BUSY, "reported by hand".to_string(), false)));
    assert!(seen.iter().any(|s| s.0 == Code::UNHANDLED && s.1.contains("boom") && !s.2));
    assert!(seen.iter().any(|s| s.0 == Code::UNHANDLED && s.1.contains("in a done callback") && s.2));
    // back to the default handler, which prints to stderr
    lp.set_exception_handler(None::<fn(&weft::ExceptionContext)>).unwrap();
    lp.default_exception_handler(&weft::ExceptionContext {
        code: Code::BUSY,
        message: "printed by the default handler (expected in the test log)".into(),
        future: None,
    });
}

#[test]
fn unobserved_task_failure_is_reported() {
    let lp = Loop::new().unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    lp.set_exception_handler(Some(move |ctx: &weft::ExceptionContext| {
        assert_eq!(ctx.code, Code::RANGE);
        n2.set(n2.get() + 1);
    }))
    .unwrap();
    lp.spawn(async { Err::<(), Error>(Error::new(Code::RANGE.0, Some("nobody reads me"))) }).detach();
    lp.run().unwrap();
    lp.close().unwrap();
    assert_eq!(n.get(), 1);
}

#[test]
fn iteration_hook_runs_per_iteration() {
    let lp = Loop::new_virtual().unwrap();
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    lp.set_iteration_hook(Some(move || n2.set(n2.get() + 1))).unwrap();
    lp.block_on(async {
        weft::sleep(1.0).await.unwrap();
        weft::sleep(1.0).await.unwrap();
    })
    .unwrap();
    assert!(n.get() >= 2, "{}", n.get());
    lp.set_iteration_hook(None::<fn()>).unwrap();
    let before = n.get();
    lp.run_mode(RunMode::NoWait).unwrap();
    assert_eq!(n.get(), before);
}

#[test]
fn introspection() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        let h = weft::spawn_named("sleeper", async { weft::sleep(5.0).await });
        weft::yield_now().await; // let it start and suspend
        let names: Vec<String> = lp.all_tasks().unwrap().iter().map(|t| t.name()).collect();
        assert_eq!(names, vec!["block_on".to_string(), "sleeper".to_string()]);
        let dump = lp.dump_tasks().unwrap();
        assert!(dump.contains("sleeper"), "{dump}");
        assert_eq!(lp.dump_tasks_fd(-1).map_err(|e| e.code()), Err(Code(-9)));
        assert_eq!(lp.current_task().unwrap().name(), "block_on");
        assert_eq!(weft::Task::current().unwrap().name(), "block_on");
        h.abort();
    })
    .unwrap();
    assert!(lp.current_task().is_none());
    assert!(weft::Task::current().is_none());
}

#[test]
fn remote_calls_stop_and_hold_from_threads() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    assert!(!remote.is_running());
    let hits = Arc::new(AtomicUsize::new(0));
    let hold = lp.hold().unwrap();
    let (r2, h2) = (remote.clone(), hits.clone());
    let t = std::thread::spawn(move || {
        for _ in 0..100 {
            let h = h2.clone();
            r2.call(move || {
                h.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        let r3 = r2.clone();
        r2.call(move || r3.stop().unwrap()).unwrap();
        drop(hold);
    });
    lp.run_mode(RunMode::Forever).unwrap();
    t.join().unwrap();
    lp.run().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 100);
    assert!(format!("{remote:?} {lp:?} {:?}", lp.hold().unwrap()).contains("Remote"));
    lp.close().unwrap();
    assert!(remote.is_closed());
    assert_eq!(remote.call(|| {}).unwrap_err().code(), Code::CLOSED);
    assert!(remote.hold().is_err());
    assert!(remote.stop().is_err());
}
