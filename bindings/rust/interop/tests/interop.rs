//! Rust awaits C tasks, C awaits Rust tasks, and each cancels the other.
use weft::{Error, Loop, Task};
use weft_interop::{interop_spawn_awaiter, interop_spawn_doubler};

#[test]
fn rust_awaits_a_c_task() {
    let lp = Loop::new_virtual().unwrap();
    let v = lp
        .block_on(async {
            let lp = weft::current_loop().unwrap();
            // SAFETY: a new reference to a live task
            let t = unsafe { Task::from_raw(interop_spawn_doubler(lp.as_ptr(), 21, 1.0, std::ptr::null_mut())) };
            assert_eq!(t.name(), "c-doubler");
            t.future::<i64>().await
        })
        .unwrap();
    assert_eq!(v, Ok(42));
}

#[test]
fn c_awaits_a_rust_task() {
    let lp = Loop::new_virtual().unwrap();
    let mut status = -1i64;
    let v = lp
        .block_on(async {
            let rust = weft::spawn(async {
                weft::sleep(1.0).await?;
                Ok::<i64, Error>(9)
            });
            let lp = weft::current_loop().unwrap();
            // SAFETY: live task pointers; status outlives the task
            let c = unsafe { Task::from_raw(interop_spawn_awaiter(lp.as_ptr(), rust.as_ptr(), 0, &mut status)) };
            c.future::<i64>().await
        })
        .unwrap();
    assert_eq!((v, status), (Ok(10), 0));
}

#[test]
fn c_cancels_a_rust_task() {
    let lp = Loop::new_virtual().unwrap();
    let mut status = -1i64;
    let (c_result, rust_result) = lp
        .block_on(async {
            let rust = weft::spawn(async {
                let r = weft::sleep(100.0).await;
                assert_eq!(r, Err(Error::Cancelled(Some("from C".into()))));
                r.map(|_| 0i64)
            });
            weft::yield_now().await; // let it start
            let lp = weft::current_loop().unwrap();
            // SAFETY: as above
            let c = unsafe { Task::from_raw(interop_spawn_awaiter(lp.as_ptr(), rust.as_ptr(), 1, &mut status)) };
            (c.future::<i64>().await, rust.await)
        })
        .unwrap();
    assert!(c_result.unwrap_err().is_cancelled());
    assert_eq!(rust_result, Err(Error::Cancelled(Some("from C".into()))));
    assert_eq!(status, weft::Code::CANCELLED.0 as i64);
}

#[test]
fn rust_cancels_a_c_task() {
    let lp = Loop::new_virtual().unwrap();
    let mut cleaned = 0i32;
    let r = lp
        .block_on(async {
            let lp = weft::current_loop().unwrap();
            // SAFETY: cleaned outlives the task (block_on waits for it)
            let t = unsafe { Task::from_raw(interop_spawn_doubler(lp.as_ptr(), 1, 100.0, &mut cleaned)) };
            weft::sleep(1.0).await.unwrap();
            assert!(t.cancel_with_message(Some("from Rust")));
            t.future::<i64>().await
        })
        .unwrap();
    assert_eq!(r, Err(Error::Cancelled(Some("from Rust".into()))));
    assert_eq!(cleaned, 1);
}

#[test]
fn a_rust_panic_reaches_c_as_eunhandled() {
    let lp = Loop::new_virtual().unwrap();
    let mut status = 0i64;
    lp.block_on(async {
        let rust = weft::spawn(async {
            if weft::version_hex() != 0 {
                panic!("rust side");
            }
            0i64
        });
        let lp = weft::current_loop().unwrap();
        // SAFETY: as above
        let c = unsafe { Task::from_raw(interop_spawn_awaiter(lp.as_ptr(), rust.as_ptr(), 0, &mut status)) };
        let err = c.future::<i64>().await.unwrap_err();
        assert_eq!(err.code(), weft::Code::UNHANDLED);
    })
    .unwrap();
    assert_eq!(status, weft::Code::UNHANDLED.0 as i64);
}

#[test]
fn combinators_mix_c_and_rust_tasks() {
    let lp = Loop::new_virtual().unwrap();
    let v = lp
        .block_on(async {
            let lp = weft::current_loop().unwrap();
            // SAFETY: new references
            let c1 = unsafe { Task::from_raw(interop_spawn_doubler(lp.as_ptr(), 5, 2.0, std::ptr::null_mut())) };
            let r1 = weft::spawn(async {
                weft::sleep(1.0).await?;
                Ok::<i64, Error>(3)
            });
            weft::gather::<i64, _>([c1.future::<i64>(), r1.future::<i64>()]).await
        })
        .unwrap();
    assert_eq!(v, Ok(vec![10, 3]));
}
