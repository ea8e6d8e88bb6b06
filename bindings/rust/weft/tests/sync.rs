//! Event, Lock, Semaphore, Condition, Barrier: guards, fairness,
//! cancellation both ways, abandoned operations, loop close.
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use weft::{Barrier, BarrierState, Code, Condition, Error, Event, Lock, Loop, Semaphore};

#[test]
fn event_set_clear_wait() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let ev = Event::new().unwrap();
        assert!(!ev.is_set());
        let woken = Rc::new(Cell::new(0));
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let (ev, woken) = (ev.clone(), woken.clone());
            waiters.push(weft::spawn(async move {
                ev.wait().await?;
                woken.set(woken.get() + 1);
                Ok::<(), Error>(())
            }));
        }
        weft::sleep(1.0).await.unwrap();
        assert!(ev.describe().contains("unset, waiters:3"), "{}", ev.describe());
        assert_eq!(woken.get(), 0);
        ev.set();
        ev.set(); // twice: nothing more
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(woken.get(), 3);
        // set: a wait is done at once
        assert!(ev.wait().is_done());
        ev.clear();
        assert!(!ev.is_set());
        // a wait dropped while pending is withdrawn
        let w = ev.wait();
        assert!(!w.is_done());
        drop(w);
        weft::yield_now().await; // (the wait leaves from the loop)
        assert!(ev.describe().contains("[unset]"), "{}", ev.describe());
        assert!(format!("{ev:?}").contains("Event"));
        assert!(!ev.as_ptr().is_null());
    })
    .unwrap();
    // outside a running loop
    assert_eq!(Event::new().unwrap_err().code(), Code::STATE);
    let ev = Event::with_loop(&lp).unwrap();
    ev.set();
    assert!(ev.is_set());
}

#[test]
fn lock_is_exclusive_and_fair() {
    let lp = Loop::new_virtual().unwrap();
    let log = lp
        .block_on(async {
            let lock = Lock::new().unwrap();
            let log = Rc::new(RefCell::new(Vec::new()));
            let mut tasks = Vec::new();
            for i in 0..4 {
                let (lock, log) = (lock.clone(), log.clone());
                tasks.push(weft::spawn(async move {
                    let g = lock.acquire().await?;
                    assert!(g.lock().locked());
                    log.borrow_mut().push(format!("in {i}"));
                    weft::sleep(1.0).await?;
                    log.borrow_mut().push(format!("out {i}"));
                    Ok::<(), Error>(())
                }));
            }
            weft::sleep(0.5).await.unwrap();
            assert!(lock.locked());
            assert!(lock.describe().contains("locked, waiters:3"), "{}", lock.describe());
            for t in tasks {
                t.await.unwrap();
            }
            assert!(!lock.locked());
            log.take()
        })
        .unwrap();
    let want: Vec<String> = (0..4).flat_map(|i| [format!("in {i}"), format!("out {i}")]).collect();
    assert_eq!(log, want);
}

#[test]
fn lock_release_without_a_guard() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = Lock::new().unwrap();
        assert_eq!(lock.release().unwrap_err().code(), Code::STATE);
        let g: weft::LockGuard = lock.acquire().await.unwrap();
        assert!(format!("{g:?}").contains("held: true"));
        drop(g);
        assert!(!lock.locked());
        // an acquire that is never awaited and dropped gives the lock back
        let a = lock.acquire();
        assert!(lock.locked());
        assert!(format!("{a:?}").contains("LockAcquire"));
        drop(a);
        assert!(!lock.locked());
        // asyncio style: acquire, then release by hand from another task
        let g = lock.acquire().await.unwrap();
        let l2 = lock.clone();
        weft::spawn(async move { l2.release() }).await.unwrap();
        assert!(!lock.locked());
        // the guard's own release then finds it unlocked: ignored
        drop(g);
        assert!(!lock.locked());
    })
    .unwrap();
}

#[test]
fn cancel_a_task_waiting_for_a_lock() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = Lock::new().unwrap();
        let g = lock.acquire().await.unwrap();
        let l2 = lock.clone();
        let waiter = weft::spawn(async move {
            let _g = l2.acquire().await?;
            Ok::<i64, Error>(1)
        });
        let l3 = lock.clone();
        let next = weft::spawn(async move {
            let _g = l3.acquire().await?;
            Ok::<i64, Error>(2)
        });
        weft::sleep(1.0).await.unwrap();
        assert!(waiter.cancel());
        assert_eq!(waiter.await, Err(Error::Cancelled(None)));
        drop(g);
        // the lock went to the next waiter, not to the cancelled one
        assert_eq!(next.await, Ok(2));
        assert!(!lock.locked());
    })
    .unwrap();
}

#[test]
fn woken_and_cancelled_at_once_keeps_the_lock_consistent() {
    // The holder releases (waking the waiter) and cancels the waiter in the
    // same round: either the waiter got the lock (and releases it when its
    // cancellation unwinds it), or it did not; the lock ends free and the
    // next waiter gets it.
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = Lock::new().unwrap();
        let got = Rc::new(Cell::new(false));
        let g = lock.acquire().await.unwrap();
        let (l2, got2) = (lock.clone(), got.clone());
        let waiter = weft::spawn(async move {
            let _g = l2.acquire().await?;
            got2.set(true);
            weft::sleep(1.0).await?; // the cancellation arrives here
            Ok::<(), Error>(())
        });
        let l3 = lock.clone();
        let next = weft::spawn(async move {
            let _g = l3.acquire().await?;
            weft::sleep(5.0).await?;
            Ok::<i64, Error>(7)
        });
        weft::sleep(0.5).await.unwrap();
        drop(g);
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        weft::sleep(1.0).await.unwrap();
        // the next waiter holds it, and nobody released it under its feet
        assert!(lock.locked(), "{}", lock.describe());
        assert_eq!(next.await, Ok(7));
        assert!(!lock.locked());
        assert!(got.get()); // the wake-up won: the lock was its, then released
    })
    .unwrap();
}

#[test]
fn an_acquire_granted_but_never_awaited_is_released() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = Lock::new().unwrap();
        let g = lock.acquire().await.unwrap();
        let pending = lock.acquire(); // queued
        drop(g); // grants it; its commit runs from the loop
        drop(pending); // nobody will use it: released after the commit
        weft::yield_now().await;
        weft::sleep(0.1).await.unwrap();
        assert!(!lock.locked(), "{}", lock.describe());
        // and one that loses a select is withdrawn
        let g = lock.acquire().await.unwrap();
        let l2 = lock.clone();
        let (i, _, rest) = weft::select(vec![
            Box::pin(async move { l2.acquire().await.map(drop) })
                as std::pin::Pin<Box<dyn std::future::Future<Output = weft::Result<()>>>>,
            Box::pin(async { weft::sleep(1.0).await }),
        ])
        .await;
        assert_eq!(i, 1);
        drop(rest);
        drop(g);
        assert!(!lock.locked(), "{}", lock.describe());
    })
    .unwrap();
}

#[test]
fn semaphore_counts_and_bounds() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let sem = Semaphore::new(2).unwrap();
        assert_eq!(sem.value(), 2);
        let a = sem.acquire().await.unwrap();
        let b = sem.acquire().await.unwrap();
        assert!(sem.locked() && sem.value() == 0);
        assert!(sem.describe().contains("locked"), "{}", sem.describe());
        let s2 = sem.clone();
        let third = weft::spawn(async move { s2.acquire().await.map(|p| p.semaphore().value() as i64) });
        weft::sleep(1.0).await.unwrap();
        assert!(!third.is_finished());
        drop(a);
        assert_eq!(third.await, Ok(0));
        drop(b);
        assert_eq!(sem.value(), 2);
        // unbounded: release adds units
        sem.release().unwrap();
        assert_eq!(sem.value(), 3);
        // bounded: no more than the start value
        let bs = Semaphore::bounded(1).unwrap();
        assert!(bs.describe().starts_with("<BoundedSemaphore"), "{}", bs.describe());
        assert_eq!(bs.release().unwrap_err().code(), Code::OVERFLOW);
        let p = bs.acquire().await.unwrap();
        assert!(format!("{p:?}").contains("SemaphorePermit"));
        drop(p);
        assert_eq!(bs.value(), 1);
        // cancel a waiting acquire: no unit is lost
        let held = bs.acquire().await.unwrap();
        let bs2 = bs.clone();
        let w = weft::spawn(async move { bs2.acquire().await.map(drop) });
        weft::sleep(1.0).await.unwrap();
        assert!(w.cancel());
        assert!(w.await.unwrap_err().is_cancelled());
        drop(held);
        assert_eq!(bs.value(), 1);
        // an acquire dropped unawaited gives its unit back
        let a = bs.acquire();
        assert!(format!("{a:?}").contains("SemaphoreAcquire"));
        drop(a);
        assert_eq!(bs.value(), 1);
        assert!(format!("{bs:?}").contains("Semaphore") && !bs.as_ptr().is_null());
    })
    .unwrap();
    assert_eq!(Semaphore::with_loop(&lp, usize::MAX, false).unwrap_err().code(), Code::INVALID);
    assert_eq!(Semaphore::new(1).unwrap_err().code(), Code::STATE);
    assert_eq!(Semaphore::bounded(1).unwrap_err().code(), Code::STATE);
}

#[test]
fn condition_wait_notify() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let cond = Condition::new().unwrap();
        assert_eq!(cond.notify(1).unwrap_err().code(), Code::STATE); // lock not held
        let items = Rc::new(RefCell::new(Vec::<i32>::new()));
        let mut consumers = Vec::new();
        for _ in 0..2 {
            let (cond, items) = (cond.clone(), items.clone());
            consumers.push(weft::spawn(async move {
                let mut g = cond.acquire().await?;
                while items.borrow().is_empty() {
                    cond.wait(&mut g).await?;
                    assert!(cond.locked());
                }
                let v = items.borrow_mut().remove(0);
                Ok::<i64, Error>(v as i64)
            }));
        }
        weft::sleep(1.0).await.unwrap();
        assert!(!cond.locked());
        assert!(cond.describe().contains("waiters:2"), "{}", cond.describe());
        {
            let _g = cond.acquire().await.unwrap();
            items.borrow_mut().extend([10, 20]);
            assert_eq!(cond.notify(1).unwrap(), 1);
            assert_eq!(cond.notify_all().unwrap(), 1);
        }
        let mut got = Vec::new();
        for c in consumers {
            got.push(c.await.unwrap());
        }
        got.sort();
        assert_eq!(got, vec![10, 20]);
        assert!(!cond.locked());
        assert!(format!("{cond:?}").contains("Condition") && !cond.as_ptr().is_null());
    })
    .unwrap();
}

#[test]
fn condition_wait_for_and_errors() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = Lock::new().unwrap();
        let cond = Condition::with_loop(&weft::current_loop().unwrap(), Some(&lock)).unwrap();
        assert_eq!(cond.lock().as_ptr(), lock.as_ptr());
        let n = Rc::new(Cell::new(0));
        let (c2, n2) = (cond.clone(), n.clone());
        let waiter = weft::spawn(async move {
            let mut g = c2.acquire().await?;
            let n3 = n2.clone();
            c2.wait_for(&mut g, move || n3.get() >= 3).await?;
            Ok::<i32, Error>(n2.get())
        });
        for _ in 0..3 {
            weft::sleep(1.0).await.unwrap();
            let _g = lock.acquire().await.unwrap(); // the same lock
            n.set(n.get() + 1);
            cond.notify_all().unwrap();
        }
        assert_eq!(waiter.await, Ok(3));
        // true at once: the lock is never let go
        let mut g = cond.acquire().await.unwrap();
        let w = cond.wait_for(&mut g, || true);
        assert!(format!("{w:?}").contains("ConditionWait"));
        w.await.unwrap();
        assert!(lock.locked());
        // a panicking predicate ends the wait with EUNHANDLED, lock held
        let r = cond.wait_for(&mut g, || panic!("bad predicate")).await;
        assert!(r.unwrap_err().is_panic());
        assert!(lock.locked());
        // a guard of another lock
        let other = Lock::new().unwrap();
        let mut og = other.acquire().await.unwrap();
        assert_eq!(cond.wait(&mut og).await.unwrap_err().code(), Code::INVALID);
        // (a predicate of a wait that never starts is dropped, not leaked)
        let kept = Rc::new(());
        let k2 = kept.clone();
        let r = cond.wait_for(&mut og, move || Rc::strong_count(&k2) > 0).await;
        assert_eq!((r.unwrap_err().code(), Rc::strong_count(&kept)), (Code::INVALID, 1));
        drop(g);
        assert!(!lock.locked());
        // the guard-less calls
        let g = cond.acquire().await.unwrap();
        cond.release().unwrap(); // by hand: the guard's own release is then ignored
        assert_eq!(cond.release().unwrap_err().code(), Code::STATE);
        drop(g);
        assert!(!cond.locked());
        // a lock of another loop
        let lp2 = Loop::new().unwrap();
        let foreign = Lock::with_loop(&lp2).unwrap();
        let err = Condition::with_loop(&weft::current_loop().unwrap(), Some(&foreign)).unwrap_err();
        assert_eq!(err.code(), Code::OTHER_LOOP);
    })
    .unwrap();
}

#[test]
fn a_cancelled_condition_wait_takes_the_lock_back() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let cond = Condition::new().unwrap();
        let state = Rc::new(Cell::new(None));
        let (c2, s2) = (cond.clone(), state.clone());
        let waiter = weft::spawn(async move {
            let mut g = c2.acquire().await?;
            let r = c2.wait(&mut g).await;
            s2.set(Some((r.clone(), c2.locked())));
            r
        });
        weft::sleep(1.0).await.unwrap();
        // hold the lock while the waiter is cancelled: it must wait for it
        let g = cond.acquire().await.unwrap();
        assert!(waiter.cancel());
        weft::sleep(1.0).await.unwrap();
        assert!(!waiter.is_finished());
        drop(g);
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(state.take(), Some((Err(Error::Cancelled(None)), true)));
        assert!(!cond.locked()); // and its guard released it
    })
    .unwrap();
}

#[test]
fn a_dropped_condition_wait_releases_the_lock_it_takes_back() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let cond = Condition::new().unwrap();
        let mut g = cond.acquire().await.unwrap();
        {
            let w = cond.wait(&mut g);
            assert!(!cond.locked()); // the wait let it go
            let (i, _, _rest) = weft::select(vec![
                Box::pin(w) as std::pin::Pin<Box<dyn std::future::Future<Output = weft::Result<()>> + '_>>,
                Box::pin(async { weft::sleep(1.0).await }),
            ])
            .await;
            assert_eq!(i, 1);
        } // the wait is dropped pending: it re-acquires, then lets go
        drop(g); // the guard does not hold it: nothing
        weft::sleep(1.0).await.unwrap();
        assert!(!cond.locked(), "{}", cond.describe());
        let _g = cond.acquire().await.unwrap();
    })
    .unwrap();
}

#[test]
fn barrier_parties_abort_reset() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let b = Barrier::new(3).unwrap();
        assert_eq!((b.parties(), b.n_waiting(), b.state()), (3, 0, BarrierState::Filling));
        let w1 = b.wait();
        let w2 = b.wait();
        assert_eq!(b.n_waiting(), 2);
        assert!(b.describe().contains("waiters:2/3"), "{}", b.describe());
        let w3 = b.wait(); // trips it
        assert_eq!(b.state(), BarrierState::Draining);
        assert_eq!(w3.await, Ok(2));
        assert_eq!((w1.await, w2.await), (Ok(0), Ok(1)));
        assert_eq!(b.state(), BarrierState::Filling);
        // abort: waits fail as broken, now and later
        let w = b.wait();
        b.abort();
        assert!(b.is_broken() && b.state() == BarrierState::Broken);
        assert_eq!(w.await.unwrap_err().code(), Code::BROKEN_BARRIER);
        assert_eq!(b.wait().await.unwrap_err().code(), Code::BROKEN_BARRIER);
        b.reset();
        assert!(!b.is_broken());
        // reset while a party waits
        let w = b.wait();
        weft::yield_now().await;
        b.reset();
        assert_eq!(b.state(), BarrierState::Resetting);
        assert_eq!(w.await.unwrap_err().code(), Code::BROKEN_BARRIER);
        assert_eq!(b.state(), BarrierState::Filling);
        assert!(format!("{b:?}").contains("Barrier") && !b.as_ptr().is_null());
    })
    .unwrap();
    assert_eq!(Barrier::with_loop(&lp, 0).unwrap_err().code(), Code::INVALID);
    assert_eq!(Barrier::new(2).unwrap_err().code(), Code::STATE);
}

#[test]
fn loop_close_with_waiters_pending() {
    // Every kind of waiter pending when the loop closes: cancelled, nothing
    // leaks (this file runs under valgrind).
    let lp = Loop::new_virtual().unwrap();
    let lr = lp.handle();
    let lock = Lock::with_loop(&lr).unwrap();
    let sem = Semaphore::with_loop(&lr, 0, false).unwrap();
    let ev = Event::with_loop(&lr).unwrap();
    let cond = Condition::with_loop(&lr, None).unwrap();
    let bar = Barrier::with_loop(&lr, 5).unwrap();
    let outcomes = Rc::new(RefCell::new(Vec::new()));
    {
        let (lock, sem, ev, cond, bar, o) =
            (lock.clone(), sem.clone(), ev.clone(), cond.clone(), bar.clone(), outcomes.clone());
        lp.spawn(async move {
            let _held = lock.acquire().await?;
            let lock2 = lock.clone();
            let o2 = o.clone();
            weft::spawn(async move {
                let r = lock2.acquire().await.map(drop);
                o2.borrow_mut().push(("lock", r.is_err()));
            })
            .detach();
            let o3 = o.clone();
            weft::spawn(async move {
                let r = sem.acquire().await.map(drop);
                o3.borrow_mut().push(("sem", r.is_err()));
            })
            .detach();
            let o4 = o.clone();
            weft::spawn(async move {
                let mut g = cond.acquire().await.unwrap();
                let r = cond.wait(&mut g).await;
                o4.borrow_mut().push(("cond", r.is_err()));
            })
            .detach();
            let _b = bar.wait();
            ev.wait().await
        })
        .detach();
    }
    lp.run_mode(weft::RunMode::NoWait).unwrap();
    lp.run_mode(weft::RunMode::NoWait).unwrap();
    drop(lp);
    assert!(lr.is_closed());
    let mut got = outcomes.take();
    got.sort();
    assert_eq!(got, vec![("cond", true), ("lock", true), ("sem", true)]);
}
