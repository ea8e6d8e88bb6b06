//! 52: wait for SIGINT (Ctrl-C) as a future; a SIGUSR1 handler.
//!
//!   loop.add_signal_handler(signal.SIGUSR1, lambda: print("got SIGUSR1"))
//!   stop = loop.create_future()
//!   loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
//!   print("waiting for Ctrl-C"); await stop
//!
//! Instead of a person pressing Ctrl-C, the program sends itself the
//! signals.  The handler runs on the loop thread, never in signal context,
//! so it may do anything.
use std::cell::Cell;
use std::rc::Rc;

use weft::signal::{self, Signal};
use weft::Error;

extern "C" {
    // libc's (std links it)
    fn raise(sig: i32) -> i32;
}

fn send_self(sig: Signal) {
    // SAFETY: the signal is watched: it ends nothing
    unsafe { raise(sig.0) };
}

fn main() {
    weft::run(async {
        let seen = Rc::new(Cell::new(0));
        let s2 = seen.clone();
        signal::add_handler(Signal::USR1, move |sig| {
            s2.set(s2.get() + 1);
            println!("got SIGUSR1 ({})", sig.0);
        })?;
        for _ in 0..2 {
            // one at a time: signals sent in quick succession may merge
            let delivered = signal::wait(Signal::USR1);
            send_self(Signal::USR1);
            delivered.await?;
        }
        println!("waiting for Ctrl-C");
        let stop = signal::ctrl_c();
        send_self(Signal::INT);
        stop.await?;
        println!(
            "got SIGINT, cleaning up (SIGUSR1 seen {} times)",
            seen.get()
        );
        signal::remove_handler(Signal::USR1)?;
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// got SIGUSR1 (10)
// got SIGUSR1 (10)
// waiting for Ctrl-C
// got SIGINT, cleaning up (SIGUSR1 seen 2 times)
