//! Task groups: children, errors, cancellation from inside and outside,
//! spawning rules, a parent that never exits, loop close.
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use weft::{Code, Error, Loop, State, TaskGroup, TaskGroupState};

/// A child that sleeps `delay` and then fails with EINVAL, or returns `v`;
/// it notes in `log` when it is cancelled.
async fn worker(name: &'static str, delay: f64, fail: bool, log: Rc<RefCell<Vec<String>>>) -> weft::Result<i64> {
    if let Err(err) = weft::sleep(delay).await {
        log.borrow_mut().push(format!("{name} cancelled"));
        return Err(err);
    }
    if fail {
        return Err(Error::new(Code::INVALID.0, Some(&format!("{name} broke"))));
    }
    log.borrow_mut().push(format!("{name} done"));
    Ok(delay as i64)
}

#[test]
fn every_child_succeeds() {
    let lp = Loop::new_virtual().unwrap();
    let out = lp
        .block_on(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let l2 = log.clone();
            let r = weft::task_group(|tg| async move {
                assert_eq!(tg.state(), TaskGroupState::Active);
                let a = tg.spawn_named("a", worker("a", 1.0, false, l2.clone()));
                let b = tg.spawn(worker("b", 2.0, false, l2.clone()));
                assert_eq!(a.task().unwrap().name(), "a");
                assert_eq!(tg.size(), 2);
                assert!(tg.describe().contains("TaskGroup"), "{}", tg.describe());
                assert!(format!("{tg:?}").contains("TaskGroup"));
                assert!(!tg.as_ptr().is_null());
                // detach b: the group still waits for it
                b.detach();
                Ok(a.await? * 10)
            })
            .await;
            (r, log.take())
        })
        .unwrap();
    assert_eq!(out.0, Ok(Some(10)));
    assert_eq!(out.1, vec!["a done", "b done"]);
}

#[test]
fn a_failing_child_cancels_siblings_and_body() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tg = TaskGroup::enter().unwrap();
        tg.spawn_named("a", worker("a", 0.1, false, log.clone())).detach();
        tg.spawn_named("b", worker("b", 0.2, true, log.clone())).detach();
        tg.spawn_named("c", worker("c", 1.0, false, log.clone())).detach();
        let d = tg.spawn_named("d", worker("d", 2.0, false, log.clone()));
        let body = weft::sleep(5.0).await;
        assert_eq!(body, Err(Error::Cancelled(None)));
        assert!(tg.is_aborting());
        // a spawn into an aborting group is refused
        let late = tg.spawn(async {});
        assert_eq!(late.await.unwrap_err().code(), Code::STATE);
        let r = tg.exit(body).await;
        let err = r.unwrap_err();
        assert_eq!(err.code(), Code::GROUP);
        let msg = err.message().unwrap();
        assert!(msg.contains("1 sub-exception") && msg.contains("b broke"), "{msg}");
        assert_eq!(tg.message().as_deref(), Some(msg));
        let errors = tg.errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].error, Error::new(Code::INVALID.0, Some("b broke")));
        assert_eq!(errors[0].task.as_ref().unwrap().name(), "b");
        assert!(format!("{:?}", errors[0].clone()).contains("GroupError"));
        assert_eq!(d.await, Err(Error::Cancelled(None)));
        assert_eq!(tg.state(), TaskGroupState::Done);
        assert_eq!(tg.size(), 0);
        assert_eq!(*log.borrow(), vec!["a done", "c cancelled", "d cancelled"]);
        // the group withdrew the parent's cancellation: this task goes on
        assert_eq!(weft::sleep(1.0).await, Ok(()));
        assert_eq!(weft::Task::current().unwrap().cancelling(), 0);
    })
    .unwrap();
}

#[test]
fn a_failing_body_is_the_last_error() {
    let lp = Loop::new_virtual().unwrap();
    let errors = lp
        .block_on(async {
            let tg = TaskGroup::enter().unwrap();
            tg.spawn_named("io", async {
                weft::sleep(1.0).await?;
                Err::<(), Error>(Error::new(-5, Some("child io")))
            })
            .detach();
            // cancelled by the child's failure; the body then fails on its own
            assert!(weft::sleep(5.0).await.unwrap_err().is_cancelled());
            let r = tg.exit(Err::<(), Error>(Error::new(-32, None))).await;
            assert_eq!(r.unwrap_err().code(), Code::GROUP);
            assert!(tg.message().unwrap().contains("2 sub-exceptions"));
            tg.errors()
        })
        .unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].error, Error::new(-5, Some("child io")));
    assert_eq!(errors[0].task.as_ref().unwrap().name(), "io");
    assert_eq!(errors[1].error, Error::new(-32, None));
    assert!(errors[1].task.is_none());
}

#[test]
fn the_body_error_after_a_child_error() {
    let lp = Loop::new_virtual().unwrap();
    let r = lp
        .block_on(async {
            let tg = TaskGroup::enter().unwrap();
            tg.spawn(async {
                weft::sleep(1.0).await?;
                Err::<(), Error>(Error::new(-5, Some("child io")))
            })
            .detach();
            // the body fails on its own, before the child
            let body: weft::Result<()> = Err(Error::new(-32, Some("body pipe")));
            let r = tg.exit(body).await;
            (r, tg.errors())
        })
        .unwrap();
    assert_eq!(r.0.unwrap_err().code(), Code::GROUP);
    // the body's failure aborted the group before the child failed: the
    // child was cancelled; the only entry is the body's (no task, no message)
    assert_eq!(r.1.len(), 1);
    assert_eq!(r.1[0].error, Error::new(-32, None));
    assert!(r.1[0].task.is_none());
}

#[test]
fn outside_cancel_while_the_body_runs() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let parent = weft::spawn(async move {
            weft::task_group(|tg| async move {
                tg.spawn(worker("x", 10.0, false, l2.clone())).detach();
                weft::sleep(20.0).await?;
                Ok(1i64)
            })
            .await
            .map(|v| v.unwrap_or(0))
        });
        weft::sleep(1.0).await.unwrap();
        assert!(parent.cancel_with_message("stop"));
        assert_eq!(parent.await, Err(Error::Cancelled(Some("stop".into()))));
        assert_eq!(*log.borrow(), vec!["x cancelled"]);
    })
    .unwrap();
}

#[test]
fn outside_cancel_while_the_exit_waits() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let state = Rc::new(Cell::new(None));
        let s2 = state.clone();
        let parent = weft::spawn(async move {
            let tg = TaskGroup::enter()?;
            tg.spawn(worker("y", 10.0, false, l2.clone())).detach();
            let exit: weft::GroupExit<()> = tg.exit(Ok(()));
            let r = exit.await;
            s2.set(Some(tg.state()));
            r.map(drop)
        });
        weft::sleep(1.0).await.unwrap();
        let t = parent.task().unwrap();
        assert!(t.awaiting().is_some()); // the exit waits natively
        assert!(parent.cancel());
        assert_eq!(parent.await, Err(Error::Cancelled(None)));
        assert_eq!(*log.borrow(), vec!["y cancelled"]);
        assert_eq!(state.get(), Some(TaskGroupState::Done));
        assert_eq!(t.state(), State::Cancelled);
    })
    .unwrap();
}

#[test]
fn cancel_from_inside() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let r = weft::task_group(|tg| async move {
            tg.spawn(worker("p", 5.0, false, l2.clone())).detach();
            weft::sleep(1.0).await?;
            tg.cancel();
            tg.cancel(); // twice: nothing more
            weft::sleep(1.0).await?; // cancelled here
            Ok("unreachable")
        })
        .await;
        assert_eq!(r, Ok(None));
        assert_eq!(*log.borrow(), vec!["p cancelled"]);
        // the task is not left cancelled
        assert_eq!(weft::sleep(1.0).await, Ok(()));
        // a group whose body finished first: cancel is too late to matter
        let r = weft::task_group(|tg| async move {
            tg.spawn(async { weft::sleep(1.0).await }).detach();
            Ok(5)
        })
        .await;
        assert_eq!(r, Ok(Some(5)));
    })
    .unwrap();
}

#[test]
fn a_cancel_the_body_never_awaited_is_withdrawn() {
    // The child fails while the body is between awaits of pure Rust
    // futures: the body finishes without seeing the cancellation, and the
    // group withdraws it, so the next await of the task is not cancelled.
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let r = weft::task_group(|tg| async move {
            tg.spawn(async { Err::<(), Error>(Error::new(-5, Some("now"))) }).detach();
            for _ in 0..3 {
                weft::yield_now().await;
            }
            Ok(())
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Code::GROUP);
        assert_eq!(weft::sleep(1.0).await, Ok(()));
    })
    .unwrap();
}

#[test]
fn children_spawn_siblings() {
    let lp = Loop::new_virtual().unwrap();
    let n = lp
        .block_on(async {
            let count = Rc::new(Cell::new(0));
            let c2 = count.clone();
            weft::task_group(|tg| async move {
                let tg2 = tg.clone();
                tg.spawn(async move {
                    weft::sleep(1.0).await?;
                    // the body returned: the exit waits for us
                    assert_eq!(tg2.state(), TaskGroupState::Exiting);
                    for _ in 0..3 {
                        let c3 = c2.clone();
                        tg2.spawn(async move {
                            weft::sleep(1.0).await?;
                            c3.set(c3.get() + 1);
                            Ok::<(), Error>(())
                        })
                        .detach();
                    }
                    Ok::<(), Error>(())
                })
                .detach();
                Ok(())
            })
            .await
            .unwrap();
            count.get()
        })
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn spawning_is_refused_once_done() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tg = TaskGroup::enter().unwrap();
        let exit = tg.exit(Ok(1));
        assert_eq!(exit.await, Ok(Some(1)));
        assert_eq!(tg.state(), TaskGroupState::Done);
        assert_eq!(tg.spawn(async {}).await.unwrap_err().code(), Code::STATE);
        // a second exit is refused
        assert_eq!(tg.exit(Ok(())).await.unwrap_err().code(), Code::STATE);
        assert!(tg.errors().is_empty() && tg.message().is_none());
    })
    .unwrap();
    // outside a task
    assert_eq!(TaskGroup::enter().unwrap_err().code(), Code::STATE);
    let r = lp.block_on(weft::task_group(|_tg| async { Ok(()) })).unwrap();
    assert_eq!(r, Ok(Some(())));
}

#[test]
fn the_exit_from_another_task_is_refused() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tg = TaskGroup::enter().unwrap();
        let tg2 = tg.clone();
        let other = weft::spawn(async move { tg2.exit(Ok(())).await.map(drop) });
        assert_eq!(other.await.unwrap_err().code(), Code::STATE);
        assert_eq!(tg.exit(Ok(())).await, Ok(Some(())));
    })
    .unwrap();
}

#[test]
fn a_parent_that_never_exits_aborts_the_group() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let kept = Rc::new(RefCell::new(None));
        let k2 = kept.clone();
        let parent = weft::spawn(async move {
            let tg = TaskGroup::enter()?;
            tg.spawn(worker("orphan", 10.0, false, l2)).detach();
            *k2.borrow_mut() = Some(tg);
            Ok::<(), Error>(()) // returns without the exit
        });
        parent.await.unwrap();
        weft::sleep(1.0).await.unwrap();
        assert_eq!(*log.borrow(), vec!["orphan cancelled"]);
        assert_eq!(kept.borrow().as_ref().unwrap().state(), TaskGroupState::Done);
    })
    .unwrap();
}

#[test]
fn loop_close_with_a_group_pending() {
    // block_on gives up on a body that waits forever: closing the loop
    // cancels the parent and the children; nothing leaks (valgrind run).
    let lp = Loop::new_virtual().unwrap();
    let lp2 = lp.handle();
    let dropped = Rc::new(Cell::new(0));
    let d2 = dropped.clone();
    struct Note(Rc<Cell<i32>>);
    impl Drop for Note {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let h = lp.spawn(async move {
        weft::task_group(|tg| async move {
            for _ in 0..3 {
                let n = Note(d2.clone());
                tg.spawn(async move {
                    let _n = n;
                    weft::sleep(1e9).await
                })
                .detach();
            }
            weft::sleep(1e9).await?;
            Ok(())
        })
        .await?;
        Ok::<(), Error>(())
    });
    lp.run_mode(weft::RunMode::NoWait).unwrap();
    lp.run_mode(weft::RunMode::NoWait).unwrap();
    drop(lp);
    assert!(lp2.is_closed());
    assert_eq!(dropped.get(), 3);
    assert!(h.is_finished());
}

/// The parent is cancelled (with `message`, if any) while its body awaits
/// only pure Rust futures: the body ends normally, and the cancellation is
/// thrown into the exit's wait (as asyncio throws it into __aexit__'s
/// await), which cancels the children; the parent ends cancelled with it.
fn cancel_pending_at_the_exit(message: Option<&str>) {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        let parent = weft::spawn(async move {
            weft::task_group(|tg| async move {
                tg.spawn(worker("slow", 10.0, false, l2)).detach();
                for _ in 0..3 {
                    weft::yield_now().await;
                }
                Ok(())
            })
            .await
            .map(drop)
        });
        weft::yield_now().await;
        match message {
            Some(m) => assert!(parent.cancel_with_message(m)),
            None => assert!(parent.cancel()),
        }
        assert_eq!(parent.await, Err(Error::Cancelled(message.map(String::from))));
        assert_eq!(*log.borrow(), vec!["slow cancelled"]);
        assert_eq!(lp_time(), 0.0);
    })
    .unwrap();
}

#[test]
fn a_cancel_pending_at_the_exit_reaches_its_wait() {
    cancel_pending_at_the_exit(None);
}

#[test]
fn a_cancel_the_body_never_awaited_reaches_the_exit_with_its_message() {
    cancel_pending_at_the_exit(Some("stop"));
}

fn lp_time() -> f64 {
    weft::current_loop().unwrap().time()
}
