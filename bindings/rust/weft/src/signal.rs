//! Unix signals on the loop (`weft/signal.h`): [`wait`] for the next
//! delivery as a future, or a handler called on each one ([`add_handler`],
//! asyncio `loop.add_signal_handler`).  Both run on the loop thread,
//! never in signal context.
//!
//! While weft watches a signal, its default action (ending the process for
//! SIGINT and SIGTERM) does not happen; once the last watcher in the
//! process goes, the default comes back.  A pending [`wait`] keeps the
//! loop running; a handler does not (like asyncio's).
//!
//! ```no_run
//! use weft::signal::{self, Signal};
//!
//! weft::run(async {
//!     println!("press Ctrl-C");
//!     signal::ctrl_c().await.unwrap();
//!     println!("bye");
//! })
//! .unwrap();
//! ```
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use weft_sys as sys;

use crate::error::{check, Error, Result};
use crate::io::{on_loop, running_loop, Op};
use crate::value::{sealed, Value};

/// A signal number.  The constants are the platform's (Linux's, or the
/// BSDs' and macOS's where those differ); `Signal(n)` names any other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Signal(pub i32);

impl Signal {
    /// SIGHUP: the terminal hung up; often "reload".
    pub const HUP: Signal = Signal(1);
    /// SIGINT: Ctrl-C.
    pub const INT: Signal = Signal(2);
    /// SIGQUIT: Ctrl-\.
    pub const QUIT: Signal = Signal(3);
    /// SIGKILL: cannot be caught (for [`crate::process::Child::signal`]).
    pub const KILL: Signal = Signal(9);
    /// SIGPIPE: a write to a closed pipe.
    pub const PIPE: Signal = Signal(13);
    /// SIGALRM: a timer.
    pub const ALRM: Signal = Signal(14);
    /// SIGTERM: the polite request to end.
    pub const TERM: Signal = Signal(15);
    /// SIGUSR1: for the application.
    #[cfg(target_os = "linux")]
    pub const USR1: Signal = Signal(10);
    /// SIGUSR2: for the application.
    #[cfg(target_os = "linux")]
    pub const USR2: Signal = Signal(12);
    /// SIGCHLD: a child stopped or exited.
    #[cfg(target_os = "linux")]
    pub const CHLD: Signal = Signal(17);
    /// SIGUSR1: for the application.
    #[cfg(not(target_os = "linux"))]
    pub const USR1: Signal = Signal(30);
    /// SIGUSR2: for the application.
    #[cfg(not(target_os = "linux"))]
    pub const USR2: Signal = Signal(31);
    /// SIGCHLD: a child stopped or exited.
    #[cfg(not(target_os = "linux"))]
    pub const CHLD: Signal = Signal(20);
    /// SIGWINCH: the terminal's size changed.
    pub const WINCH: Signal = Signal(28);
}

impl sealed::Sealed for Signal {}
/// A signal travels as its number (an int64), as `weft_signal_wait`'s
/// result does.
impl Value for Signal {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<Signal> {
        i32::read(raw).map(Signal)
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_int64(raw, self.0.into())
    }
}

/// Completes with `sig` the next time the process receives it, on the
/// running loop (`weft_signal_wait`).  Dropping or cancelling it stops
/// watching.  Fails at once with `EINVAL` for a signal that cannot be
/// caught (SIGKILL, SIGSTOP, out of range).
pub fn wait(sig: Signal) -> Op<Signal> {
    // SAFETY: live loop
    Op::value(on_loop(|lp| unsafe { sys::weft_signal_wait(lp, sig.0) }))
}

/// [`wait`] for SIGINT (tokio's `ctrl_c`).
pub fn ctrl_c() -> Op<Signal> {
    wait(Signal::INT)
}

type HandlerFn = Box<dyn FnMut(Signal)>;

unsafe extern "C" fn handler_trampoline(lp: *mut sys::weft_loop_t, signum: c_int, ud: *mut c_void) {
    let f = &mut *(ud as *mut HandlerFn);
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(Signal(signum)))) {
        crate::task::report_panic(lp, "a signal handler", &*p, std::ptr::null_mut());
    }
}

unsafe extern "C" fn release_handler(ud: *mut c_void) {
    let f = Box::from_raw(ud as *mut HandlerFn);
    if catch_unwind(AssertUnwindSafe(move || drop(f))).is_err() {
        eprintln!("weft: a signal handler panicked while being dropped");
    }
}

/// Calls `handler` on the running loop's thread each time `sig` is
/// delivered, until [`remove_handler`] or the loop's close (asyncio
/// `add_signal_handler`).  One handler per signal and loop: adding one
/// replaces the previous.  It does not keep the loop running by itself.
/// A panic in it is reported to the loop's exception handler.  Errors:
/// `EINVAL` for a signal that cannot be caught, `ESTATE` outside a running
/// loop.
pub fn add_handler(sig: Signal, handler: impl FnMut(Signal) + 'static) -> Result<()> {
    let lp = running_loop()?;
    let ud = Box::into_raw(Box::new(Box::new(handler) as HandlerFn)) as *mut c_void;
    // SAFETY: live loop; weft calls release_handler once on success
    let rc = unsafe { sys::weft_signal_add(lp, sig.0, Some(handler_trampoline), ud, Some(release_handler)) };
    if rc != 0 {
        // SAFETY: not registered: the box is ours again
        unsafe { drop(Box::from_raw(ud as *mut HandlerFn)) };
        return Err(Error::from_code(rc));
    }
    Ok(())
}

/// Removes the running loop's handler of `sig` (asyncio
/// `remove_signal_handler`): true if there was one.  It may be called from
/// inside that handler.
pub fn remove_handler(sig: Signal) -> Result<bool> {
    let lp = running_loop()?;
    // SAFETY: live loop
    check(unsafe { sys::weft_signal_remove(lp, sig.0) }).map(|n| n == 1)
}
