//! 54: a service that runs until SIGTERM or SIGINT, then shuts down
//! cleanly.
//!
//!   task = loop.create_task(heartbeat())
//!   for sig in (signal.SIGINT, signal.SIGTERM):
//!       loop.add_signal_handler(sig, loop.stop)
//!   loop.run_forever()
//!   task.cancel(); loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
//!
//! A handler does not keep the loop alive by itself: the loop runs forever
//! and the handler stops it.  The heartbeat sends SIGTERM to the process
//! itself after three ticks, instead of a person or a service manager.
use std::cell::Cell;
use std::rc::Rc;

use weft::signal::{self, Signal};
use weft::{Error, Loop, RunMode};

extern "C" {
    // libc's (std links it): the process signals itself
    fn raise(sig: i32) -> i32;
}

fn main() {
    let lp = Loop::new_virtual().unwrap();
    let stopped_by = Rc::new(Cell::new(0));
    let heartbeat = lp.spawn(async {
        let mut ticks = 0;
        let r: weft::Result<()> = async {
            loop {
                ticks += 1;
                println!("tick {ticks}");
                if ticks == 3 {
                    // SAFETY: SIGTERM is watched below, so it ends nothing
                    unsafe { raise(Signal::TERM.0) };
                }
                weft::sleep(0.02).await?;
            }
        }
        .await;
        if r.as_ref().is_err_and(Error::is_cancelled) {
            println!("heartbeat: cancelled, cleaning up");
        }
        r
    });
    let setup = lp.handle();
    let s2 = stopped_by.clone();
    lp.block_on(async move {
        for sig in [Signal::INT, Signal::TERM] {
            let (lp, s) = (setup.clone(), s2.clone());
            signal::add_handler(sig, move |sig| {
                println!("got signal {}: stopping", sig.0);
                s.set(sig.0);
                lp.stop().unwrap();
            })
            .unwrap();
        }
    })
    .unwrap();
    lp.run_mode(RunMode::Forever).unwrap();
    heartbeat.cancel();
    let _ = lp.block_on(heartbeat);
    println!(
        "stopped by {}",
        if stopped_by.get() == Signal::TERM.0 {
            "SIGTERM"
        } else {
            "?"
        }
    );
}

// Output:
// tick 1
// tick 2
// tick 3
// got signal 15: stopping
// heartbeat: cancelled, cleaning up
// stopped by SIGTERM
