//! Queues of Rust values: orders, bounds, shutdown, join, cancellation,
//! and every item dropped exactly once (queue dropped, loop closed, puts
//! and gets abandoned).
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use weft::{Code, Error, Loop, PutError, Queue, QueueKind};

/// An item that counts its drops.
#[derive(Debug)]
struct Counted(i32, Rc<Cell<i32>>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.set(self.1.get() + 1);
    }
}

#[test]
fn fifo_lifo_priority() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let f = Queue::new(0).unwrap();
        let l = Queue::lifo(0).unwrap();
        let p = Queue::priority(0).unwrap();
        for (i, prio) in [(1, 5), (2, 1), (3, 3), (4, 1)] {
            f.put_nowait(i).unwrap();
            l.put(i).await.unwrap();
            p.put_priority_nowait(prio, i).unwrap();
        }
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..4 {
            out.0.push(f.get().await.unwrap());
            out.1.push(l.get_nowait().unwrap());
            out.2.push(p.get().await.unwrap());
        }
        assert_eq!(out.0, vec![1, 2, 3, 4]);
        assert_eq!(out.1, vec![4, 3, 2, 1]);
        assert_eq!(out.2, vec![2, 4, 3, 1]); // equal priorities in FIFO order
                                             // put_priority on a FIFO queue ignores the priority
        f.put_priority(9, 10).await.unwrap();
        f.put_priority(1, 11).await.unwrap();
        assert_eq!((f.get_nowait(), f.get_nowait()), (Ok(10), Ok(11)));
        assert!(p.describe().starts_with("<PriorityQueue"), "{}", p.describe());
        assert!(l.describe().starts_with("<LifoQueue"), "{}", l.describe());
        assert!(format!("{f:?}").contains("Queue") && !f.as_ptr().is_null());
        let on = Queue::<u8>::with_loop(&weft::current_loop().unwrap(), QueueKind::Priority, 3).unwrap();
        assert_eq!(on.maxsize(), 3);
    })
    .unwrap();
    assert_eq!(Queue::<i32>::new(0).unwrap_err().code(), Code::STATE);
    assert_eq!(Queue::<i32>::lifo(0).unwrap_err().code(), Code::STATE);
    assert_eq!(Queue::<i32>::priority(0).unwrap_err().code(), Code::STATE);
    assert_eq!(Queue::<i32>::with_loop(&lp, QueueKind::Fifo, usize::MAX).unwrap_err().code(), Code::INVALID);
}

#[test]
fn bounded_puts_wait_and_nowait_gives_the_item_back() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let q = Queue::new(2).unwrap();
        q.put_nowait(String::from("a")).unwrap();
        q.put(String::from("b")).await.unwrap();
        assert!(q.is_full() && q.qsize() == 2 && !q.is_empty());
        let PutError { error, item } = q.put_nowait(String::from("c")).unwrap_err();
        assert_eq!((error.code(), item.as_str()), (Code::QUEUE_FULL, "c"));
        let q2 = q.clone();
        let putter = weft::spawn(async move { q2.put(String::from("c")).await.map_err(Error::from) });
        weft::sleep(1.0).await.unwrap();
        assert!(!putter.is_finished());
        assert!(q.describe().contains("_putters[1]"), "{}", q.describe());
        assert_eq!(q.get().await.unwrap(), "a");
        putter.await.unwrap();
        assert_eq!(q.get_nowait().unwrap(), "b");
        assert_eq!(q.get_nowait().unwrap(), "c");
        assert_eq!(q.get_nowait().unwrap_err().code(), Code::QUEUE_EMPTY);
        assert!(q.is_empty());
    })
    .unwrap();
}

#[test]
fn join_and_task_done() {
    let lp = Loop::new_virtual().unwrap();
    let seen = lp
        .block_on(async {
            let q = Queue::<i64>::new(0).unwrap();
            assert!(q.join().is_done()); // nothing unfinished
            assert_eq!(q.task_done().unwrap_err().code(), Code::STATE);
            let seen = Rc::new(RefCell::new(Vec::new()));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (q, seen) = (q.clone(), seen.clone());
                    weft::spawn(async move {
                        loop {
                            let v = q.get().await?;
                            weft::sleep(v as f64).await?;
                            seen.borrow_mut().push(v);
                            q.task_done()?;
                        }
                        #[allow(unreachable_code)]
                        Ok::<(), Error>(())
                    })
                })
                .collect();
            for v in [3, 1, 2] {
                q.put(v).await.unwrap();
            }
            let join = q.join();
            assert!(!join.is_done());
            join.await.unwrap();
            for w in workers {
                w.cancel();
                assert!(w.await.unwrap_err().is_cancelled());
            }
            seen.take()
        })
        .unwrap();
    assert_eq!(seen, vec![1, 3, 2]);
}

#[test]
fn shutdown_graceful_and_immediate() {
    let lp = Loop::new_virtual().unwrap();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    lp.block_on(async move {
        let q = Queue::new(1).unwrap();
        q.put_nowait(Counted(1, d.clone())).unwrap();
        // a putter waiting when the queue shuts down gets its item back
        let q2 = q.clone();
        let d2 = d.clone();
        let putter = weft::spawn(async move {
            match q2.put(Counted(2, d2)).await {
                Err(PutError { error, item }) => Ok::<_, Error>(weft::Local((error.code(), item.0))),
                Ok(()) => Ok(weft::Local((Code(0), 0))),
            }
        });
        weft::sleep(1.0).await.unwrap();
        q.shutdown(false);
        assert_eq!(putter.await.unwrap().0, (Code::QUEUE_SHUTDOWN, 2));
        assert_eq!(d.get(), 1); // the putter's item, dropped by the putter
                                // puts fail, gets take what is left, then fail
        let e = q.put_nowait(Counted(3, d.clone())).unwrap_err();
        assert_eq!(e.error.code(), Code::QUEUE_SHUTDOWN);
        assert!(format!("{e:?} {e}").contains("QUEUESHUTDOWN"));
        drop(e);
        assert_eq!(q.put(Counted(4, d.clone())).await.unwrap_err().error.code(), Code::QUEUE_SHUTDOWN);
        assert_eq!(q.get().await.unwrap().0, 1);
        assert_eq!(q.get().await.unwrap_err().code(), Code::QUEUE_SHUTDOWN);
        assert_eq!(q.get_nowait().unwrap_err().code(), Code::QUEUE_SHUTDOWN);
        assert_eq!(d.get(), 4);
        // immediate: the items left are dropped, each counts as done
        let q = Queue::new(0).unwrap();
        for i in 0..3 {
            q.put_nowait(Counted(i, d.clone())).unwrap();
        }
        let join = q.join();
        q.shutdown(true);
        assert_eq!(d.get(), 7);
        join.await.unwrap();
        assert_eq!(q.get().await.unwrap_err().code(), Code::QUEUE_SHUTDOWN);
        assert!(q.describe().contains("shutdown"), "{}", q.describe());
    })
    .unwrap();
    assert_eq!(drops.get(), 7);
}

#[test]
fn cancel_a_waiting_get_and_put() {
    let lp = Loop::new_virtual().unwrap();
    lp.block_on(async {
        let q = Queue::<i32>::new(1).unwrap();
        let q2 = q.clone();
        let getter = weft::spawn(async move { q2.get().await.map(i64::from) });
        weft::sleep(1.0).await.unwrap();
        assert!(getter.cancel());
        assert!(getter.await.unwrap_err().is_cancelled());
        // the next item is not lost to the cancelled getter
        q.put_nowait(5).unwrap();
        assert_eq!(q.get_nowait(), Ok(5));
        q.put_nowait(6).unwrap();
        let q3 = q.clone();
        let putter = weft::spawn(async move {
            match q3.put(7).await {
                Err(PutError { error, item }) => Ok::<i64, Error>(if error.is_cancelled() { item as i64 } else { -1 }),
                Ok(()) => Ok(0),
            }
        });
        weft::sleep(1.0).await.unwrap();
        assert!(putter.cancel());
        assert_eq!(putter.await, Ok(7)); // the item came back with the cancellation
        assert_eq!(q.get_nowait(), Ok(6));
        assert!(q.is_empty());
    })
    .unwrap();
}

#[test]
fn an_item_handed_to_a_getter_cancelled_at_once_is_not_lost() {
    // Put and cancel in the same round, in both orders: the item either
    // reached the getter or is still in the queue.
    for put_first in [true, false] {
        let lp = Loop::new_virtual().unwrap();
        lp.block_on(async move {
            let q = Queue::<i32>::new(0).unwrap();
            let got = Rc::new(Cell::new(None));
            let (q2, g2) = (q.clone(), got.clone());
            let getter = weft::spawn(async move {
                let v = q2.get().await?;
                g2.set(Some(v));
                weft::sleep(1.0).await?;
                Ok::<(), Error>(())
            });
            weft::sleep(1.0).await.unwrap();
            if put_first {
                q.put_nowait(42).unwrap();
                getter.cancel();
            } else {
                getter.cancel();
                q.put_nowait(42).unwrap();
            }
            assert!(getter.await.unwrap_err().is_cancelled());
            match got.get() {
                Some(v) => assert!(v == 42 && q.is_empty()),
                None => assert_eq!(q.get_nowait(), Ok(42)),
            }
        })
        .unwrap();
    }
}

#[test]
fn abandoned_puts_and_gets_drop_their_items() {
    let lp = Loop::new_virtual().unwrap();
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    lp.block_on(async move {
        let q = Queue::new(1).unwrap();
        q.put_nowait(Counted(0, d.clone())).unwrap();
        // a waiting put dropped: withdrawn, its item dropped
        let p = q.put(Counted(1, d.clone()));
        assert!(format!("{p:?}").contains("Put"));
        drop(p);
        assert_eq!(d.get(), 1);
        assert_eq!(q.qsize(), 1);
        // a get that received an item and is dropped unread drops it
        let g = q.get();
        assert!(format!("{g:?}").contains("Get"));
        drop(g);
        weft::sleep(0.1).await.unwrap(); // (the loop frees a future it was given)
        assert_eq!(d.get(), 2);
        assert!(q.is_empty());
        // a pending get dropped: withdrawn; the next item stays queued
        drop(q.get());
        q.put_nowait(Counted(2, d.clone())).unwrap();
        assert_eq!(q.qsize(), 1);
        // the queue dropped with an item in it drops the item (once the
        // withdrawn operations let go of it)
        weft::sleep(1.0).await.unwrap();
        drop(q);
        assert_eq!(d.get(), 3);
    })
    .unwrap();
    assert_eq!(drops.get(), 3);
}

#[test]
fn loop_close_drops_every_item() {
    let lp = Loop::new_virtual().unwrap();
    let lr = lp.handle();
    let drops = Rc::new(Cell::new(0));
    let q = Queue::with_loop(&lr, QueueKind::Fifo, 1).unwrap();
    q.put_nowait(Counted(0, drops.clone())).unwrap();
    let (q2, d2) = (q.clone(), drops.clone());
    lp.spawn(async move {
        // blocks: the queue is full
        q2.put(Counted(1, d2)).await.map_err(Error::from)
    })
    .detach();
    let q3 = Queue::<Counted>::with_loop(&lr, QueueKind::Lifo, 0).unwrap();
    let q4 = q3.clone();
    lp.spawn(async move { q4.get().await.map(drop) }).detach();
    lp.run_mode(weft::RunMode::NoWait).unwrap();
    drop(lp); // closes: the put is cancelled and its item dropped
    assert_eq!(drops.get(), 1);
    drop(q);
    assert_eq!(drops.get(), 2);
    drop(q3);
}

#[test]
fn producers_and_consumers() {
    let lp = Loop::new_virtual().unwrap();
    let total = lp
        .block_on(async {
            let q = Queue::<Vec<u8>>::new(3).unwrap();
            let mut producers = Vec::new();
            for p in 0..3u8 {
                let q = q.clone();
                producers.push(weft::spawn(async move {
                    for i in 0..10u8 {
                        q.put(vec![p, i]).await?;
                    }
                    Ok::<(), Error>(())
                }));
            }
            let consumer = {
                let q = q.clone();
                weft::spawn(async move {
                    let mut sum = 0i64;
                    loop {
                        match q.get().await {
                            Ok(v) => sum += v.iter().map(|&b| b as i64).sum::<i64>(),
                            Err(e) if e.code() == Code::QUEUE_SHUTDOWN => return Ok(sum),
                            Err(e) => return Err(e),
                        }
                    }
                })
            };
            for p in producers {
                p.await.unwrap();
            }
            q.shutdown(false);
            consumer.await.unwrap()
        })
        .unwrap();
    assert_eq!(total, 3 * 45 + 10 * 3);
}
