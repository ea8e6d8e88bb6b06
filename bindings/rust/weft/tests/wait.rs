//! wait and as_completed: return_when, timeouts, cancellation, indices.
use weft::{Code, Error, Loop, WaitWhen};

fn after(delay: f64, v: i64) -> weft::JoinHandle<weft::Result<i64>> {
    weft::spawn(async move {
        weft::sleep(delay).await?;
        Ok(v)
    })
}

fn failing(delay: f64) -> weft::JoinHandle<weft::Result<i64>> {
    weft::spawn(async move {
        weft::sleep(delay).await?;
        Err(Error::new(-5, Some("io")))
    })
}

#[test]
fn wait_all_first_completed_first_exception() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop().unwrap();
        // all
        let (done, pending) = weft::wait(vec![after(2.0, 1), after(1.0, 2)], WaitWhen::AllCompleted).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0));
        assert_eq!(lp.time(), 2.0);
        let mut vals = Vec::new();
        for h in done {
            vals.push(h.await.unwrap());
        }
        assert_eq!(vals, vec![1, 2]); // argument order
                                      // first completed
        let w = weft::wait(vec![after(5.0, 1), after(1.0, 2), after(3.0, 3)], WaitWhen::FirstCompleted);
        assert!(format!("{w:?}").contains("Wait"));
        assert!(!w.future().is_done());
        let (done, pending) = w.await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 2));
        assert_eq!(lp.time(), 3.0);
        for p in &pending {
            assert!(!p.is_finished()); // still running: wait never cancels
        }
        let vals: Vec<i64> = weft::join_all(pending).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(vals, vec![1, 3]);
        // first exception; cancellations do not count
        let c = after(1.0, 9);
        c.cancel();
        let t0 = lp.time();
        let (done, pending) =
            weft::wait(vec![c, failing(2.0), after(10.0, 4)], WaitWhen::FirstException).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 1));
        assert_eq!(lp.time() - t0, 2.0); // the failure, not the cancellation at 0
        for p in pending {
            p.abort();
        }
        // a plain future and a reference
        let f = weft::sleep(1.0);
        let (done, pending) = weft::wait(vec![&f], WaitWhen::AllCompleted).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 0));
    })
    .unwrap();
}

#[test]
fn wait_timeout_and_errors() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let (done, pending) =
            weft::wait_timeout(vec![after(1.0, 1), after(10.0, 2)], WaitWhen::AllCompleted, 3.0).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert_eq!(weft::current_loop().unwrap().time(), 3.0);
        pending.into_iter().for_each(|p| p.abort());
        // empty: asyncio's ValueError
        let empty: Vec<weft::Future<()>> = Vec::new();
        assert_eq!(weft::wait(empty, WaitWhen::AllCompleted).await.unwrap_err().code(), Code::INVALID);
        // NaN timeout
        let r = weft::wait_timeout(vec![weft::sleep(1.0)], WaitWhen::AllCompleted, f64::NAN).await;
        assert_eq!(r.unwrap_err().code(), Code::INVALID);
        // a broken input
        let lp2 = Loop::new().unwrap();
        lp2.close().unwrap();
        let broken = lp2.sleep(1.0);
        assert_eq!(weft::wait(vec![broken], WaitWhen::AllCompleted).await.unwrap_err().code(), Code::CLOSED);
    })
    .unwrap();
}

#[test]
fn cancel_the_task_awaiting_a_wait() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let inner = after(10.0, 1);
        let inner_task = inner.task().unwrap();
        let waiter =
            weft::spawn(
                async move { weft::wait(vec![inner], WaitWhen::AllCompleted).await.map(|(d, _)| d.len() as i64) },
            );
        weft::sleep(1.0).await.unwrap();
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        // only the wait was cancelled
        assert!(!inner_task.is_done());
        inner_task.cancel();
    })
    .unwrap();
}

#[test]
fn as_completed_in_finishing_order() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tasks = vec![after(3.0, 30), failing(1.0), after(2.0, 20)];
        let mut it = weft::as_completed::<i64, _>(&tasks);
        assert_eq!(it.remaining(), 3);
        assert_eq!(it.size_hint(), (3, Some(3)));
        assert!(format!("{it:?}").contains("AsCompleted"));
        let mut got = Vec::new();
        for next in it.by_ref() {
            assert!(!next.future().is_done());
            assert!(format!("{next:?}").contains("Completed"));
            let (i, r) = next.await;
            got.push((i, r.map_err(|e| e.code())));
        }
        assert_eq!(got, vec![(Some(1), Err(Code(-5))), (Some(2), Ok(20)), (Some(0), Ok(30))]);
        assert_eq!(it.remaining(), 0);
        assert!(it.next().is_none());
        // the inputs themselves were not touched
        assert!(tasks.iter().all(|t| t.is_finished()));
    })
    .unwrap();
}

#[test]
fn as_completed_timeout_and_skips() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let slow = after(10.0, 2);
        let tasks = vec![after(1.0, 1), slow];
        let it = weft::as_completed_timeout::<i64, _>(&tasks, 5.0);
        let it2 = it.clone(); // the same iterator
        let mut got = Vec::new();
        for next in it {
            let (i, r) = next.await;
            got.push((i, r.map_err(|e| e.code())));
        }
        assert_eq!(got, vec![(Some(0), Ok(1)), (None, Err(Code::TIMED_OUT))]);
        assert_eq!(it2.remaining(), 0);
        assert!(!tasks[1].is_finished()); // given up on, not cancelled
        tasks[1].cancel();
        // a next future cancelled before it got an input is skipped: the
        // input goes to the next one
        let tasks = vec![after(1.0, 7)];
        let mut it = weft::as_completed::<i64, _>(&tasks);
        let first = it.next().unwrap();
        first.future().cancel();
        assert_eq!(first.await.1.unwrap_err(), Error::Cancelled(None));
        assert!(it.next().is_none()); // it counted as one
                                      // empty input: nothing to yield
        let none: Vec<weft::Future<()>> = Vec::new();
        assert_eq!(weft::as_completed::<(), _>(&none).count(), 0);
        // a broken input: one future that gives the error
        let lp2 = Loop::new().unwrap();
        lp2.close().unwrap();
        let broken = vec![lp2.sleep(1.0)];
        let mut it = weft::as_completed::<(), _>(&broken);
        assert_eq!(it.remaining(), 1);
        let (i, r) = it.next().unwrap().await;
        assert_eq!((i, r.unwrap_err().code()), (None, Code::CLOSED));
        assert!(it.next().is_none());
    })
    .unwrap();
}

#[test]
fn cancel_the_task_awaiting_as_completed() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tasks = vec![after(10.0, 1), after(1.0, 2)];
        let first = tasks[0].task().unwrap();
        let ptrs: Vec<weft::Future<i64>> = tasks.iter().map(|t| t.future()).collect();
        let waiter = weft::spawn(async move {
            let mut n = 0i64;
            for next in weft::as_completed::<i64, _>(&ptrs) {
                n += next.await.1?;
            }
            Ok::<i64, Error>(n)
        });
        weft::sleep(5.0).await.unwrap();
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert!(!first.is_done()); // the inputs keep running
        first.cancel();
        drop(tasks);
    })
    .unwrap();
}
