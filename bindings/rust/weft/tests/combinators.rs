//! gather, wait_for, shield, select, timeout scopes, yield.
use weft::{Code, Error, Loop, Scope, ScopeState};

#[test]
fn gather_in_argument_order() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let hs: Vec<_> = (1..=3i64)
            .map(|i| {
                weft::spawn(async move {
                    weft::sleep(4.0 - i as f64).await?;
                    Ok::<i64, Error>(i)
                })
            })
            .collect();
        assert_eq!(weft::gather::<i64, _>(&hs).await, Ok(vec![1, 2, 3]));
        let empty: Vec<weft::Future<i64>> = Vec::new();
        assert_eq!(weft::gather::<i64, _>(empty).await, Ok(vec![]));
        // the first failure fails the gather
        let bad = weft::spawn(async { Err::<i64, Error>(Error::new(-5, None)) });
        let slow = weft::spawn(async {
            weft::sleep(1.0).await?;
            Ok::<i64, Error>(2)
        });
        let g = weft::gather::<i64, _>([&bad, &slow]);
        assert!(!g.future().is_done());
        assert_eq!(g.await.unwrap_err().code(), Code(-5));
        // settled: every outcome
        let c = weft::create_future::<i64>();
        c.cancel();
        let s = weft::gather_settled::<i64, _>([&bad, &slow]);
        assert!(!s.future().is_cancelled());
        let all = s.await.unwrap();
        assert_eq!(all[0].as_ref().unwrap_err().code(), Code(-5));
        assert_eq!(all[1], Ok(2));
        assert!(weft::gather::<i64, _>([&c]).await.unwrap_err().is_cancelled());
        // a broken child fails at once
        let broken = Loop::new().unwrap();
        broken.close().unwrap();
        assert_eq!(weft::gather::<(), _>([broken.sleep(1.0)]).await.unwrap_err().code(), Code::CLOSED);
    })
    .unwrap();
}

#[test]
fn cancelling_a_gather_cancels_its_children() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let a = weft::sleep(10.0);
        let b = weft::sleep(20.0);
        let g = weft::gather::<(), _>([&a, &b]);
        g.future().cancel();
        assert!(g.await.unwrap_err().is_cancelled());
        weft::yield_now().await;
        assert!(a.is_cancelled() && b.is_cancelled());
    })
    .unwrap();
}

#[test]
fn wait_for_times_out_or_passes_through() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let slow = weft::spawn(async {
            weft::sleep(10.0).await?;
            Ok::<i64, Error>(1)
        });
        let t = slow.task().unwrap();
        let err = weft::wait_for(slow, 1.0).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(t.is_done());
        let fast = weft::spawn(async { Ok::<i64, Error>(2) });
        assert_eq!(weft::wait_for(fast, 1.0).await, Ok(2));
        let f = weft::create_future::<String>();
        f.set_result("x".into()).unwrap();
        assert_eq!(weft::wait_for(f, std::time::Duration::from_secs(1)).await.unwrap(), "x");
        // a task that swallows the cancellation gives its result
        let stubborn = weft::spawn(async {
            let _ = weft::sleep(10.0).await;
            Ok::<i64, Error>(7)
        });
        assert_eq!(weft::wait_for(stubborn, 1.0).await, Ok(7));
        let failing = weft::spawn(async { Err::<i64, Error>(Error::new(-32, Some("pipe"))) });
        assert_eq!(weft::wait_for(failing, 1.0).await.unwrap_err().message(), Some("pipe"));
        assert_eq!(weft::wait_for(weft::sleep(f64::NAN), 1.0).await.unwrap_err().code(), Code::INVALID);
    })
    .unwrap();
}

#[test]
fn shield_keeps_the_inner_running() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let inner = weft::spawn(async {
            weft::sleep(5.0).await?;
            Ok::<i64, Error>(11)
        });
        let t = inner.task().unwrap();
        let outer = weft::spawn(async move { weft::shield(inner).await });
        weft::sleep(1.0).await?;
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        assert!(!t.is_done());
        weft::sleep(10.0).await?;
        assert_eq!(t.future::<i64>().result(), Ok(11));
        // done already: the shield mirrors it
        let f = weft::create_future::<i64>();
        f.set_result(4).unwrap();
        let s = weft::shield(f);
        assert_eq!(s.inner().result(), Ok(4));
        assert_eq!(s.await, Ok(4));
        let s2 = weft::shield(weft::sleep(1.0));
        assert!(!s2.into_inner().is_done());
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn select_first_of_many() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let (i, r, rest) = weft::select(vec![weft::sleep(3.0), weft::sleep(1.0), weft::sleep(2.0)]).await;
        assert_eq!((i, r, rest.len()), (1, Ok(()), 2));
        assert_eq!(weft::current_loop().unwrap().time(), 1.0);
        let hs = vec![weft::spawn(async { 1i64 }), weft::spawn(async { 2i64 })];
        let (i, r, _) = weft::select(hs).await;
        assert_eq!((i, r), (0, Ok(1)));
    })
    .unwrap();
}

#[test]
fn timeout_scopes() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let r = weft::timeout(1.0, async { weft::sleep(10.0).await }).await;
        assert!(r.unwrap_err().is_timeout());
        let lp = weft::current_loop().unwrap();
        assert_eq!(lp.time(), 1.0);
        assert_eq!(weft::timeout(5.0, async { Ok::<i64, Error>(3) }).await, Ok(3));
        let at = lp.time() + 2.0;
        let r = weft::timeout_at(at, async { weft::sleep(10.0).await }).await;
        assert!(r.unwrap_err().is_timeout());
        assert_eq!(lp.time(), at);

        // the scope itself
        let s = Scope::enter(f64::INFINITY).unwrap();
        assert_eq!(s.state(), ScopeState::Active);
        assert_eq!(s.when(), f64::INFINITY);
        assert!(s.describe().contains("active"), "{}", s.describe());
        s.reschedule(lp.time() + 1.0).unwrap();
        let r = weft::sleep(5.0).await;
        assert!(s.expired());
        assert_eq!(s.state(), ScopeState::Expiring);
        assert!(s.exit(r).unwrap_err().is_timeout());
        assert_eq!(s.state(), ScopeState::Expired);
        let copy = s.clone();
        assert!(copy.expired());
        assert!(s.reschedule(0.0).is_err());
        let f = Scope::enter_at(lp.time() + 100.0).unwrap();
        assert_eq!(f.exit(Ok::<i64, Error>(1)), Ok(1));
        assert_eq!(f.state(), ScopeState::Finished);
        // an outside cancellation passes through as a cancellation
        let h = weft::spawn(async { weft::timeout(50.0, async { weft::sleep(100.0).await }).await });
        weft::sleep(1.0).await.unwrap();
        h.cancel();
        assert!(h.await.unwrap_err().is_cancelled());
        // a scope dropped without exit is exited (it does not fire later)
        {
            let _dropped = Scope::enter(1.0).unwrap();
        }
        weft::sleep(5.0).await.unwrap();
    })
    .unwrap();
    // outside a task
    assert_eq!(Scope::enter(1.0).unwrap_err().code(), Code::STATE);
}

#[test]
fn yield_now_lets_others_run() {
    let lp = Loop::new().unwrap();
    let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let o = order.clone();
    lp.block_on(async move {
        let o2 = o.clone();
        let h = weft::spawn(async move { o2.borrow_mut().push("other") });
        o.borrow_mut().push("before");
        weft::yield_now().await;
        o.borrow_mut().push("after");
        h.await.unwrap();
    })
    .unwrap();
    assert_eq!(*order.borrow(), vec!["before", "other", "after"]);
}

#[test]
fn a_timeout_whose_body_finished_does_not_cancel_the_next_await() {
    // The scope expires while the body awaits only pure Rust futures: the
    // body finishes normally, the exit withdraws the expiry's cancellation
    // (asyncio's uncancel), and the task's next weft await is not cancelled.
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        let scope = weft::Scope::enter_at(lp.time()).unwrap();
        for _ in 0..3 {
            weft::yield_now().await;
        }
        assert!(scope.expired());
        assert_eq!(scope.exit(Ok(5)), Ok(5));
        assert_eq!(weft::Task::current().unwrap().cancelling(), 0);
        assert_eq!(weft::sleep(1.0).await, Ok(()));
    })
    .unwrap();
}
