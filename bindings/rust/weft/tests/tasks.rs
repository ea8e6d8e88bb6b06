//! Rust tasks: spawning, outputs, cancellation, panics, wakers from threads, drops.
use std::cell::{Cell, RefCell};
use std::future::Future as StdFuture;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use weft::{AnyValue, Code, Error, Local, Loop, State, Task};

#[test]
fn outputs_reach_rust_and_c() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let a = weft::spawn(async { 7i64 });
        let b = weft::spawn(async { Ok::<String, Error>("text".into()) });
        let c = weft::spawn(async { Local(vec![1, 2, 3]) });
        let d = weft::spawn(async { Err::<i64, Error>(Error::new(-2, Some("gone"))) });
        let e = weft::spawn(async {});
        // C sees the published values
        let (fa, fb, fc) = (a.future::<i64>(), b.future::<AnyValue>(), c.future::<AnyValue>());
        assert_eq!(a.await, Ok(7));
        assert_eq!(fa.result(), Ok(7));
        assert_eq!(b.await.unwrap(), "text");
        assert_eq!(fb.result(), Ok(AnyValue::Bytes(b"text".to_vec())));
        assert_eq!(c.await.unwrap(), Local(vec![1, 2, 3]));
        assert_eq!(fc.result(), Ok(AnyValue::None));
        let de = d.await.unwrap_err();
        assert_eq!((de.code(), de.message()), (Code(-2), Some("gone")));
        assert_eq!(e.await, Ok(()));
    })
    .unwrap();
}

#[test]
fn handles_tasks_and_names() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let h = weft::spawn_named("worker", async {
            weft::sleep(1.0).await?;
            Ok::<i64, Error>(1)
        });
        assert!(!h.as_ptr().is_null());
        assert!(format!("{h:?}").contains("JoinHandle"));
        let t: Task = h.task().unwrap();
        assert_eq!(t.name(), "worker");
        t.set_name(Some("renamed")).unwrap();
        assert_eq!(t.name(), "renamed");
        t.set_name(None).unwrap();
        assert!(t.name().starts_with("Task-"), "{}", t.name());
        assert_eq!(t.state(), State::Pending);
        assert!(!h.is_finished() && !t.is_done());
        weft::yield_now().await;
        // it awaits its sleep natively, as a C task would
        assert!(t.awaiting().is_some());
        assert!(t.describe().contains("pending"), "{}", t.describe());
        assert!(format!("{t:?}").contains("Task"));
        assert_eq!(t.wake().unwrap_err().code(), Code::STATE); // awaiting a future
        let t2 = t.clone();
        assert_eq!(unsafe { Task::from_borrowed(t2.as_ptr()) }.name(), t.name());
        assert_eq!(t.future::<i64>().task().unwrap().as_ptr(), t.as_ptr());
        assert_eq!(h.await, Ok(1));
        assert!(t.is_done() && t.awaiting().is_none());
    })
    .unwrap();
    // spawning on a closed loop gives a broken handle
    lp.close().unwrap();
    let h = lp.spawn(async {});
    assert!(h.as_ptr().is_null() && h.task().is_none() && h.is_finished() && !h.cancel());
    assert_eq!(lp.block_on(async {}).unwrap_err().code(), Code::CLOSED);
    let outside = weft::spawn(async {});
    assert!(outside.future::<()>().result().is_err());
}

#[test]
fn cancel_a_task_awaiting_a_weft_future() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let cleaned = Rc::new(Cell::new(false));
        let c2 = cleaned.clone();
        let h = weft::spawn(async move {
            let r = weft::sleep(100.0).await;
            c2.set(true);
            r.map(|_| 5i64)
        });
        weft::sleep(1.0).await.unwrap();
        assert!(h.cancel_with_message("stop now"));
        let r = h.await;
        assert_eq!(r, Err(Error::Cancelled(Some("stop now".into()))));
        assert!(cleaned.get());
    })
    .unwrap();
}

#[test]
fn cancel_delivered_at_the_next_weft_await() {
    // the task waits on two futures at once (no native await): the cancel
    // arrives as a wake-up and is delivered at its next weft await
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let h = weft::spawn(async {
            let (i, r, rest) = weft::select(vec![weft::sleep(50.0), weft::sleep(60.0)]).await;
            assert_eq!((i, rest.len()), (0, 1));
            r.map(|_| i as i64)
        });
        weft::sleep(1.0).await.unwrap();
        let t = h.task().unwrap();
        assert!(t.awaiting().is_none()); // suspended with no future of its own
        assert!(h.cancel());
        assert_eq!(t.cancelling(), 1);
        assert_eq!(h.await, Err(Error::Cancelled(None)));
        assert_eq!(t.state(), State::Cancelled);
    })
    .unwrap();
}

#[test]
fn swallow_and_uncancel() {
    let lp = Loop::new_virtual().unwrap();
    let v = lp
        .block_on(async {
            let h = weft::spawn(async {
                let me = Task::current().unwrap();
                let first = weft::sleep(10.0).await;
                assert!(first.unwrap_err().is_cancelled());
                assert_eq!(me.uncancel(), 0);
                weft::sleep(1.0).await?; // not cancelled again
                Ok::<i64, Error>(99)
            });
            weft::sleep(1.0).await?;
            h.cancel();
            h.await
        })
        .unwrap();
    assert_eq!(v, Ok(99));
}

/// A task awaiting `f` natively; `f` completes from one callback and the
/// task is cancelled from the next, both before the task runs again.
fn complete_then_cancel(f: &weft::Future<i64>, t: Task) {
    let setter = f.clone();
    weft::call_soon(move || setter.set_result(7).unwrap()).unwrap();
    weft::call_soon(move || assert!(t.cancel_with_message(Some("late")))).unwrap();
}

#[test]
fn late_cancel_is_thrown_in_at_the_pending_await() {
    // asyncio: fut completes, then task.cancel() before the task's step;
    // Task.__step throws CancelledError in at `await fut` (_must_cancel),
    // and fut's result is not consumed by the task
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let f = weft::create_future::<i64>();
        let inner = f.clone();
        let seen = Rc::new(RefCell::new(None));
        let s2 = seen.clone();
        let h = weft::spawn(async move {
            let r = inner.await;
            *s2.borrow_mut() = Some(r.clone());
            r
        });
        weft::yield_now().await;
        let t = h.task().unwrap();
        assert!(t.awaiting().is_some()); // it awaits f natively
        complete_then_cancel(&f, t.clone());
        let late = Err(Error::Cancelled(Some("late".into())));
        assert_eq!(h.await, late);
        assert_eq!(seen.borrow().clone(), Some(late)); // at that await
        assert_eq!(t.state(), State::Cancelled);
        assert_eq!(f.result(), Ok(7)); // f keeps its result
    })
    .unwrap();
}

#[test]
fn late_cancel_swallowed_then_the_task_carries_on() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let f = weft::create_future::<i64>();
        let inner = f.clone();
        let h = weft::spawn(async move {
            let me = Task::current().unwrap();
            let r = inner.clone().await;
            assert_eq!(r, Err(Error::Cancelled(Some("late".into()))));
            assert_eq!(me.cancelling(), 1);
            assert_eq!(me.uncancel(), 0);
            weft::sleep(1.0).await?; // not cancelled again
            let g = weft::create_future::<i64>();
            let setter = g.clone();
            weft::call_soon(move || setter.set_result(35).unwrap()).unwrap();
            let v = g.await?; // a native await that works normally
            Ok::<i64, Error>(v + inner.await?) // f's result is still there
        });
        weft::yield_now().await;
        let t = h.task().unwrap();
        assert!(t.awaiting().is_some());
        complete_then_cancel(&f, t.clone());
        assert_eq!(h.await, Ok(42));
        assert_eq!(t.state(), State::Result);
    })
    .unwrap();
}

#[test]
fn late_cancel_at_an_await_of_another_task() {
    // A awaits B natively; B finishes and A is cancelled before A runs: A's
    // await of B returns Cancelled and B's output stays in the handle
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let waiter: Rc<RefCell<Option<Task>>> = Rc::default();
        let w2 = waiter.clone();
        let b = weft::spawn(async move {
            weft::sleep(1.0).await?;
            let a = w2.borrow_mut().take().unwrap();
            weft::call_soon(move || assert!(a.cancel())).unwrap(); // runs once B is done
            Ok::<i64, Error>(5)
        });
        let a = weft::spawn(async move {
            let mut b = b;
            let first = (&mut b).await;
            assert_eq!(first, Err(Error::Cancelled(None))); // cancelled without a message
            assert_eq!(Task::current().unwrap().uncancel(), 0);
            (&mut b).await
        });
        *waiter.borrow_mut() = a.task();
        assert_eq!(a.await, Ok(5));
    })
    .unwrap();
}

/// A pure Rust future, ready once its flag is set (woken by its waker).
struct Flagged(Rc<Cell<bool>>, Rc<RefCell<Option<Waker>>>);
impl StdFuture for Flagged {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.get() {
            return Poll::Ready(());
        }
        *self.1.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn cancel_while_not_awaiting_a_weft_future_reaches_the_next_weft_await() {
    // the task waits for a Rust future; it is woken and cancelled in the same
    // round: the Rust await completes, the next weft await returns Cancelled
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let (flag, waker) = (Rc::new(Cell::new(false)), Rc::new(RefCell::new(None::<Waker>)));
        let fl = Flagged(flag.clone(), waker.clone());
        let reached = Rc::new(Cell::new(false));
        let r2 = reached.clone();
        let h = weft::spawn(async move {
            fl.await;
            r2.set(true);
            weft::sleep(1.0).await?;
            Ok::<i64, Error>(1)
        });
        weft::yield_now().await;
        let t = h.task().unwrap();
        assert!(t.awaiting().is_none()); // suspended with no future of its own
        weft::call_soon(move || {
            flag.set(true);
            waker.borrow_mut().take().unwrap().wake();
        })
        .unwrap();
        let t2 = t.clone();
        weft::call_soon(move || assert!(t2.cancel())).unwrap();
        let r = h.await;
        assert!(r.as_ref().is_err_and(|e| e.is_cancelled()), "{r:?}");
        assert!(reached.get());
        assert_eq!(t.state(), State::Cancelled);
    })
    .unwrap();
}

/// A task blocked on a [`Flagged`] Rust future: it is woken, then cancelled
/// with each of `messages`, all before it runs again (so the cancellation
/// does not come through a weft future it awaits).
fn wake_then_cancel(
    flag: Rc<Cell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
    t: Task,
    messages: &'static [&'static str],
) {
    weft::call_soon(move || {
        flag.set(true);
        waker.borrow_mut().take().unwrap().wake();
    })
    .unwrap();
    weft::call_soon(move || {
        for m in messages {
            t.cancel_with_message(Some(m));
        }
    })
    .unwrap();
}

type Flag = (Rc<Cell<bool>>, Rc<RefCell<Option<Waker>>>);

fn flagged() -> (Flagged, Flag) {
    let (flag, waker) = (Rc::new(Cell::new(false)), Rc::new(RefCell::new(None::<Waker>)));
    (Flagged(flag.clone(), waker.clone()), (flag, waker))
}

#[test]
fn cancel_message_reaches_the_next_weft_await() {
    // asyncio: task.cancel("stop") while the task is not awaiting a future;
    // the CancelledError at its next await carries "stop", and the future it
    // awaited there is cancelled with "stop" too
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let (fl, (flag, waker)) = flagged();
        let g = weft::create_future::<i64>();
        let inner = g.clone();
        let seen = Rc::new(RefCell::new(None));
        let s2 = seen.clone();
        let h = weft::spawn(async move {
            fl.await;
            let r = inner.await;
            *s2.borrow_mut() = Some(r.clone());
            r
        });
        weft::yield_now().await;
        let t = h.task().unwrap();
        assert!(t.awaiting().is_none());
        wake_then_cancel(flag, waker, t.clone(), &["stop"]);
        let stop = Err(Error::Cancelled(Some("stop".into())));
        assert_eq!(h.await, stop);
        assert_eq!(seen.borrow().clone(), Some(stop)); // at that await
        assert!(g.is_cancelled());
        assert_eq!(g.error_message().as_deref(), Some("stop"));
        assert_eq!(g.result(), Err(Error::Cancelled(Some("stop".into()))));
        assert_eq!(t.state(), State::Cancelled);
    })
    .unwrap();
}

#[test]
fn the_latest_cancel_message_is_delivered() {
    // asyncio keeps the message of the latest cancel() (_cancel_message)
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let (fl, (flag, waker)) = flagged();
        let h = weft::spawn(async move {
            fl.await;
            weft::sleep(1.0).await
        });
        weft::yield_now().await;
        wake_then_cancel(flag, waker, h.task().unwrap(), &["first", "second"]);
        assert_eq!(h.await, Err(Error::Cancelled(Some("second".into()))));
    })
    .unwrap();
}

#[test]
fn cancel_message_reaches_a_wait_on_several_futures() {
    // no native await (two futures): the cancel comes as a wake-up and is
    // delivered, message included, at the next poll of a weft future
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let h = weft::spawn(async {
            let (i, r, _rest) = weft::select(vec![weft::sleep(50.0), weft::sleep(60.0)]).await;
            r.map(|_| i as i64)
        });
        weft::sleep(1.0).await.unwrap();
        assert!(h.task().unwrap().awaiting().is_none());
        assert!(h.cancel_with_message("stop"));
        assert_eq!(h.await, Err(Error::Cancelled(Some("stop".into()))));
    })
    .unwrap();
}

#[test]
fn cancel_message_reaches_a_lock_acquire() {
    // an operation future (a contended lock) cancelled by the delivery ends
    // Cancelled with the message; the lock is not taken
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lock = weft::Lock::new().unwrap();
        let held = lock.acquire().await.unwrap();
        let (fl, (flag, waker)) = flagged();
        let l2 = lock.clone();
        let h = weft::spawn(async move {
            fl.await;
            l2.acquire().await.map(drop)
        });
        weft::yield_now().await;
        wake_then_cancel(flag, waker, h.task().unwrap(), &["stop"]);
        assert_eq!(h.await, Err(Error::Cancelled(Some("stop".into()))));
        drop(held);
        assert!(!lock.locked());
    })
    .unwrap();
}

#[test]
fn a_pending_cancel_message_is_freed_without_another_await() {
    // valgrind (scripts/sections/rust.sh) checks that the kept message is
    // freed: when the task returns before any weft await, and when a
    // timeout scope's exit drops the withdrawn delivery
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        // returns without another weft await
        let (fl, (flag, waker)) = flagged();
        let h = weft::spawn(async move {
            fl.await;
            7i64
        });
        weft::yield_now().await;
        let t = h.task().unwrap();
        wake_then_cancel(flag, waker, t.clone(), &["stop"]);
        let r = h.await;
        // (the output is published; asyncio's Task.__step would end the task
        // cancelled, as _must_cancel is still set when the coroutine returns)
        assert_eq!(r, Ok(7));

        // uncancelled, then a scope's exit withdraws the delivery: the next
        // await is not cancelled
        let (fl, (flag, waker)) = flagged();
        let h = weft::spawn(async move {
            let scope = weft::Scope::enter(f64::INFINITY)?;
            fl.await;
            let me = Task::current().unwrap();
            assert_eq!(me.uncancel(), 0);
            scope.exit(Ok(()))?;
            weft::sleep(1.0).await?;
            Ok::<i64, Error>(8)
        });
        weft::yield_now().await;
        wake_then_cancel(flag, waker, h.task().unwrap(), &["stop"]);
        assert_eq!(h.await, Ok(8));
    })
    .unwrap();
}

#[test]
fn cancel_before_first_step_drops_the_future() {
    let lp = Loop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let flag = Flag(dropped.clone());
    let h = lp.spawn(async move {
        let _f = flag;
        if weft::version_hex() > 0 {
            panic!("never runs");
        }
    });
    assert!(h.cancel());
    let r = lp.block_on(h).unwrap();
    assert_eq!(r.unwrap_err(), Error::Cancelled(None));
    assert!(dropped.get());
}

#[test]
fn abort_and_detach() {
    let lp = Loop::new_virtual().unwrap();
    let ran = Rc::new(Cell::new(0));
    let (r1, r2) = (ran.clone(), ran.clone());
    lp.block_on(async move {
        let a = weft::spawn(async move {
            weft::sleep(5.0).await?;
            r1.set(r1.get() + 1);
            Ok::<(), Error>(())
        });
        let t = a.task().unwrap();
        a.abort();
        let d = weft::spawn(async move {
            weft::sleep(1.0).await?;
            r2.set(r2.get() + 10);
            Ok::<(), Error>(())
        });
        d.detach();
        weft::sleep(10.0).await.unwrap();
        assert!(t.is_done() && t.state() == State::Cancelled);
    })
    .unwrap();
    assert_eq!(ran.get(), 10);
}

#[test]
fn panics_fail_the_task() {
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        let h = weft::spawn(async {
            if weft::version_hex() > 0 {
                panic!("kaboom");
            }
            1i64
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic(), "{err}");
        assert_eq!(err.message(), Some("panicked: kaboom"));
        assert!(!Error::new(-5011, None).is_panic());
    })
    .unwrap();
    let r = lp.block_on(async { panic!("in block_on") });
    let err: Error = r.map(|_: ()| ()).unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn tasks_interleave_and_await_each_other() {
    let lp = Loop::new_virtual().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    lp.block_on(async move {
        let mut hs = Vec::new();
        for i in 0..3i64 {
            let l = l.clone();
            hs.push(weft::spawn(async move {
                for step in 0..2 {
                    l.borrow_mut().push((i, step));
                    weft::yield_now().await;
                }
                i * 10
            }));
        }
        let all = weft::join_all(hs).await;
        assert_eq!(all, vec![Ok(0), Ok(10), Ok(20)]);
    })
    .unwrap();
    assert_eq!(*log.borrow(), vec![(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
}

/// A future completed by another thread through the task's Waker.
struct Shared {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}
struct ThreadDone(Arc<Shared>);
impl StdFuture for ThreadDone {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.done.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.done.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[test]
fn waker_fired_from_another_thread() {
    let lp = Loop::new().unwrap();
    let hold = lp.hold().unwrap();
    let v = lp
        .block_on(async move {
            let shared = Arc::new(Shared { done: AtomicBool::new(false), waker: Mutex::new(None) });
            let s2 = shared.clone();
            let h = weft::spawn(async move {
                ThreadDone(s2).await;
                weft::sleep(0.0).await?; // weft still works after a foreign wake
                Ok::<i64, Error>(5)
            });
            let t = std::thread::spawn(move || {
                loop {
                    if let Some(w) = shared.waker.lock().unwrap().take() {
                        shared.done.store(true, Ordering::SeqCst);
                        w.wake();
                        break;
                    }
                    std::thread::yield_now();
                }
                drop(hold);
            });
            let v = h.await;
            t.join().unwrap();
            v
        })
        .unwrap();
    assert_eq!(v, Ok(5));
}

#[test]
fn waker_clone_keeps_the_task_woken_by_rust() {
    // a task that holds its own waker clone never awaits natively, and a
    // wake through the clone runs it again
    let lp = Loop::new_virtual().unwrap();
    let v = lp
        .block_on(async {
            let slot: Rc<RefCell<Option<Waker>>> = Rc::new(RefCell::new(None));
            let s2 = slot.clone();
            let h = weft::spawn(async move {
                std::future::poll_fn(|cx| {
                    if s2.borrow().is_some() {
                        return Poll::Ready(());
                    }
                    *s2.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                3i64
            });
            weft::yield_now().await;
            let w = slot.borrow().clone().unwrap();
            w.wake_by_ref();
            drop(w);
            h.await
        })
        .unwrap();
    assert_eq!(v, Ok(3));
}

#[test]
fn dropping_pending_futures_and_detached_tasks_at_close() {
    let dropped = Rc::new(Cell::new(0));
    struct Count(Rc<Cell<i32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    {
        let lp = Loop::new_virtual().unwrap();
        for _ in 0..3 {
            let c = Count(dropped.clone());
            lp.spawn(async move {
                let _c = c;
                // pending forever: a plain future nobody completes, and a foreign-waker poll
                let f = weft::create_future::<()>();
                let _ = weft::select(vec![f.clone(), weft::sleep(1e9)]).await;
                f.await
            })
            .detach();
        }
        let pending = lp.create_future::<i64>();
        let p2 = pending.clone();
        let waiter = lp.spawn(p2);
        lp.run_mode(weft::RunMode::NoWait).unwrap();
        drop(pending);
        drop(waiter);
        // Loop's drop closes: the tasks are cancelled, their futures dropped
    }
    assert_eq!(dropped.get(), 3);
}

#[test]
fn outputs_are_dropped_once_whoever_is_last() {
    // the output lives in the task's cell: dropped by the task's end when
    // the handle is gone, by the handle when it is dropped unread, and by
    // the reader otherwise
    let dropped = Rc::new(Cell::new(0));
    struct Count(Rc<Cell<i32>>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let lp = Loop::new_virtual().unwrap();
    let reports = Rc::new(Cell::new(0));
    let r = reports.clone();
    lp.set_exception_handler(Some(move |_: &weft::ExceptionContext| r.set(r.get() + 1))).unwrap();
    let d = dropped.clone();
    lp.block_on(async move {
        // detached before it finishes
        let c = Count(d.clone());
        weft::spawn(async move {
            weft::sleep(1.0).await.unwrap();
            Local(c)
        })
        .detach();
        // finished, then dropped unread
        let c = Count(d.clone());
        let unread = weft::spawn(async move { Local(c) });
        weft::sleep(0.5).await.unwrap();
        assert!(unread.is_finished());
        assert_eq!(d.get(), 0);
        drop(unread);
        assert_eq!(d.get(), 1);
        // taken by the reader, who drops it
        let c = Count(d.clone());
        let taken = weft::spawn(async move { Local(c) }).await.unwrap();
        assert_eq!(d.get(), 1);
        drop(taken);
        assert_eq!(d.get(), 2);
        weft::sleep(2.0).await.unwrap();
        assert_eq!(d.get(), 3);
        // an output C cannot hold (out of int64 range): Rust still gets it,
        // C sees ERANGE, and reading it through the handle observes that
        let big = weft::spawn(async { u64::MAX });
        let c_side = big.future::<AnyValue>();
        assert_eq!(big.await, Ok(u64::MAX));
        assert_eq!(c_side.result().unwrap_err().code(), Code::RANGE);
    })
    .unwrap();
    lp.close().unwrap();
    assert_eq!(dropped.get(), 3);
    assert_eq!(reports.get(), 0);
}

#[test]
fn frames_over_aligned_futures_and_outputs_holding_their_task() {
    // a task's state lives in its frame (16-byte aligned); a future needing
    // more alignment takes the other path, with the same semantics
    #[repr(align(64))]
    struct Wide(u8);
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let w = Wide(5);
        let h = weft::spawn(async move {
            weft::sleep(0.1).await.unwrap();
            i64::from(w.0)
        });
        assert_eq!(h.await, Ok(5));
        let w = Wide(1);
        let gone = weft::spawn(async move {
            weft::sleep(1.0).await.unwrap();
            i64::from(w.0)
        });
        assert!(gone.cancel());
        assert!(gone.await.unwrap_err().is_cancelled());
        // the output holds the task's last reference once the handle is
        // gone: dropping it (in the frame) must not free the frame under it
        let own = weft::spawn(async { Local(Task::current().unwrap()) });
        weft::sleep(0.1).await.unwrap();
        assert!(own.is_finished());
        drop(own);
        let early = weft::spawn(async { Local(Task::current().unwrap()) });
        drop(early);
        weft::sleep(0.1).await.unwrap();
        let read = weft::spawn(async { Local(Task::current().unwrap()) });
        let Local(t) = read.await.unwrap();
        assert!(t.is_done());
    })
    .unwrap();
    lp.close().unwrap();
}

#[test]
fn foreign_executor_polls_weft_futures() {
    // a weft future polled with a waker that is not a weft task's (a
    // hand-rolled executor on the loop thread) registers a done callback
    let lp = Loop::new_virtual().unwrap();
    let woken = Arc::new(AtomicBool::new(false));
    struct FlagWaker(Arc<AtomicBool>);
    impl std::task::Wake for FlagWaker {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let waker = Waker::from(Arc::new(FlagWaker(woken.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut f = lp.sleep(1.0);
    assert!(Pin::new(&mut f).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut f).poll(&mut cx).is_pending()); // refreshes, no second callback
    lp.run().unwrap();
    assert!(woken.load(Ordering::SeqCst));
    assert_eq!(Pin::new(&mut f).poll(&mut cx), Poll::Ready(Ok(())));
    // dropped while registered: the callback is removed
    let mut g = lp.sleep(1.0);
    assert!(Pin::new(&mut g).poll(&mut cx).is_pending());
    drop(g);
    let mut h = lp.spawn(async { 1i64 });
    assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
    lp.run().unwrap();
    assert_eq!(Pin::new(&mut h).poll(&mut cx), Poll::Ready(Ok(1)));
    // polled again after its output was taken
    assert_eq!(Pin::new(&mut h).poll(&mut cx).map(|r| r.unwrap_err().code()), Poll::Ready(Code::STATE));
    // a handle dropped while its callback is registered: removed, never fired
    let fired = Arc::new(AtomicBool::new(false));
    let waker2 = Waker::from(Arc::new(FlagWaker(fired.clone())));
    let mut k = lp.spawn(async { weft::sleep(1.0).await });
    assert!(Pin::new(&mut k).poll(&mut Context::from_waker(&waker2)).is_pending());
    drop(k);
    lp.run().unwrap();
    assert!(!fired.load(Ordering::SeqCst));
}
