//! Signals: a wait as a future, handlers, replacement and removal,
//! cancellation, bad signals.
mod io_util;

use std::cell::RefCell;
use std::rc::Rc;

use weft::signal::{self, Signal};
use weft::{Code, Loop};

extern "C" {
    // libc's, which std links already
    fn raise(sig: i32) -> i32;
}

fn send(sig: Signal) {
    // SAFETY: raising a signal the test watches
    assert_eq!(unsafe { raise(sig.0) }, 0);
}

#[test]
fn wait_for_a_signal() {
    let _g = io_util::serial();
    let lp = Loop::new().unwrap();
    let got = lp
        .block_on(async {
            let w = signal::wait(Signal::USR1);
            weft::call_soon(|| send(Signal::USR1)).unwrap();
            let first = w.await.unwrap();
            // a cancelled wait stops watching; a dropped one too
            let c = signal::wait(Signal::USR2);
            assert!(c.cancel());
            assert!(c.await.unwrap_err().is_cancelled());
            drop(signal::wait(Signal::USR2));
            let t = weft::wait_for(signal::wait(Signal::HUP), 0.01).await;
            assert!(t.unwrap_err().is_timeout());
            let ctrl = signal::ctrl_c();
            weft::call_soon(|| send(Signal::INT)).unwrap();
            assert_eq!(ctrl.await.unwrap(), Signal::INT);
            first
        })
        .unwrap();
    assert_eq!(got, Signal::USR1);
    drop(lp);
}

/// Lets the loop run until `done` (a bounded number of rounds).
async fn until(done: impl Fn() -> bool) {
    for _ in 0..5000 {
        if done() {
            return;
        }
        weft::sleep(0.001).await.unwrap();
    }
    panic!("the signal never came");
}

#[test]
fn handlers() {
    let _g = io_util::serial();
    let lp = Loop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    lp.block_on(async move {
        let s3 = s2.clone();
        signal::add_handler(Signal::USR1, move |s| s3.borrow_mut().push(("first", s))).unwrap();
        // a second handler replaces the first
        let s4 = s2.clone();
        signal::add_handler(Signal::USR1, move |s| {
            s4.borrow_mut().push(("second", s));
            if s4.borrow().len() == 2 {
                // removing itself from inside is allowed
                assert!(signal::remove_handler(Signal::USR1).unwrap());
            }
        })
        .unwrap();
        // a handler does not keep the loop alive: a wait on another signal does
        let term = signal::wait(Signal::TERM);
        send(Signal::USR1);
        until(|| s2.borrow().len() == 1).await;
        send(Signal::USR1);
        until(|| s2.borrow().len() == 2).await;
        assert!(!signal::remove_handler(Signal::USR1).unwrap());
        // a panicking handler is reported, and the loop goes on
        let reports = Rc::new(RefCell::new(0));
        let r2 = reports.clone();
        weft::current_loop()
            .unwrap()
            .set_exception_handler(Some(move |_: &weft::ExceptionContext| *r2.borrow_mut() += 1))
            .unwrap();
        signal::add_handler(Signal::USR2, |_| panic!("handler panics")).unwrap();
        send(Signal::USR2);
        send(Signal::TERM);
        assert_eq!(term.await.unwrap(), Signal::TERM);
        until(|| *reports.borrow() == 1).await;
        assert!(signal::remove_handler(Signal::USR2).unwrap());
        assert_eq!(*reports.borrow(), 1);
    })
    .unwrap();
    assert_eq!(*seen.borrow(), vec![("second", Signal::USR1), ("second", Signal::USR1)]);
    drop(lp);
}

#[test]
fn bad_signals_and_no_loop() {
    let _g = io_util::serial();
    assert_eq!(signal::add_handler(Signal::INT, |_| {}).unwrap_err().code(), Code::STATE);
    assert_eq!(signal::remove_handler(Signal::INT).unwrap_err().code(), Code::STATE);
    let lp = Loop::new().unwrap();
    lp.block_on(async {
        assert_eq!(signal::wait(Signal::KILL).await.unwrap_err().code(), Code::INVALID);
        assert_eq!(signal::wait(Signal(0)).await.unwrap_err().code(), Code::INVALID);
        assert_eq!(signal::add_handler(Signal(9999), |_| {}).unwrap_err().code(), Code::INVALID);
        assert_eq!(signal::remove_handler(Signal(-1)).unwrap_err().code(), Code::INVALID);
        let _ = (Signal::QUIT, Signal::PIPE, Signal::ALRM, Signal::CHLD, Signal::WINCH);
        // a signal travels through a plain future as its number
        let f = weft::create_future::<Signal>();
        f.set_result(Signal::HUP).unwrap();
        assert_eq!(f.cast::<i64>().await.unwrap(), 1);
    })
    .unwrap();
}
