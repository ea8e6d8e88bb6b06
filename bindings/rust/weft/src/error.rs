//! Errors: weft's negative codes, with cancellation as its own variant.
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_int;

use weft_sys as sys;
use weft_sys::weft_errno as e;

/// A weft error code: a negative `enum weft_errno` value (system codes are
/// `-errno` as libuv spells them, weft's own live in the -5000 range).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Code(pub i32);

impl Code {
    /// The operation was cancelled (`WEFT_ECANCELED`).
    pub const CANCELLED: Code = Code(e::WEFT_ECANCELED);
    /// A timeout expired (`WEFT_ETIMEDOUT`).
    pub const TIMED_OUT: Code = Code(e::WEFT_ETIMEDOUT);
    /// Bad argument (`WEFT_EINVAL`).
    pub const INVALID: Code = Code(e::WEFT_EINVAL);
    /// Out of memory (`WEFT_ENOMEM`).
    pub const NO_MEMORY: Code = Code(e::WEFT_ENOMEM);
    /// The future is not done yet (`WEFT_EPENDING`).
    pub const PENDING: Code = Code(e::WEFT_EPENDING);
    /// Invalid state for this operation (`WEFT_ESTATE`).
    pub const STATE: Code = Code(e::WEFT_ESTATE);
    /// The loop is closed (`WEFT_ECLOSED`).
    pub const CLOSED: Code = Code(e::WEFT_ECLOSED);
    /// Called from a thread that does not own the loop (`WEFT_ETHREAD`).
    pub const THREAD: Code = Code(e::WEFT_ETHREAD);
    /// The loop is already running (`WEFT_ERUNNING`).
    pub const RUNNING: Code = Code(e::WEFT_ERUNNING);
    /// The result holds a value of another type (`WEFT_ETYPE`).
    pub const TYPE: Code = Code(e::WEFT_ETYPE);
    /// The loop was stopped before the future was done (`WEFT_ESTOPPED`).
    pub const STOPPED: Code = Code(e::WEFT_ESTOPPED);
    /// No work is left that could complete the future (`WEFT_EDEADLOCK`).
    pub const DEADLOCK: Code = Code(e::WEFT_EDEADLOCK);
    /// A task or callback failed without an error code, e.g. a Rust panic
    /// (`WEFT_EUNHANDLED`).
    pub const UNHANDLED: Code = Code(e::WEFT_EUNHANDLED);
    /// A task group failed: its error group holds the errors (`WEFT_EGROUP`;
    /// see [`crate::TaskGroup::errors`]).
    pub const GROUP: Code = Code(e::WEFT_EGROUP);
    /// The queue is shut down (`WEFT_EQUEUESHUTDOWN`).
    pub const QUEUE_SHUTDOWN: Code = Code(e::WEFT_EQUEUESHUTDOWN);
    /// The queue is empty (`WEFT_EQUEUEEMPTY`, from `get_nowait`).
    pub const QUEUE_EMPTY: Code = Code(e::WEFT_EQUEUEEMPTY);
    /// The queue is full (`WEFT_EQUEUEFULL`, from `put_nowait`).
    pub const QUEUE_FULL: Code = Code(e::WEFT_EQUEUEFULL);
    /// The barrier was aborted, or reset while waiting (`WEFT_EBROKENBARRIER`).
    pub const BROKEN_BARRIER: Code = Code(e::WEFT_EBROKENBARRIER);
    /// A counter would overflow, e.g. a bounded semaphore released too
    /// often (`WEFT_EOVERFLOW`).
    pub const OVERFLOW: Code = Code(e::WEFT_EOVERFLOW);
    /// The object belongs to another loop (`WEFT_EOTHERLOOP`).
    pub const OTHER_LOOP: Code = Code(e::WEFT_EOTHERLOOP);
    /// Resource busy (`WEFT_EBUSY`).
    pub const BUSY: Code = Code(e::WEFT_EBUSY);
    /// A value out of range (`WEFT_ERANGE`).
    pub const RANGE: Code = Code(e::WEFT_ERANGE);

    /// The symbolic name without the `WEFT_` prefix, e.g. `"ETIMEDOUT"`.
    pub fn name(self) -> &'static str {
        // SAFETY: weft_err_name returns static storage, never NULL.
        unsafe { static_str(sys::weft_err_name(self.0)) }
    }

    /// A short English description, e.g. `"connection timed out"`.
    pub fn description(self) -> &'static str {
        // SAFETY: weft_strerror returns static storage, never NULL.
        unsafe { static_str(sys::weft_strerror(self.0)) }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description())
    }
}

unsafe fn static_str(p: *const std::os::raw::c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    CStr::from_ptr(p).to_str().unwrap_or("")
}

/// What a weft operation, future or task failed with.
///
/// Cancellation is a variant of its own, so that `match` and `?` treat it
/// apart from failures: a Rust task whose body returns `Err(Error::Cancelled(_))`
/// ends *cancelled* in C terms (`WEFT_ECANCELED`), any other error ends it
/// *failed* with that code and message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Error {
    /// Cancelled (`WEFT_ECANCELED`), with the cancel message if one was given.
    Cancelled(Option<String>),
    /// Failed with a code other than `WEFT_ECANCELED`, and maybe a message.
    Failed {
        /// The negative weft code.
        code: Code,
        /// The message that came with it, if any.
        message: Option<String>,
    },
}

/// `Result<T, weft::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `code` and an optional message.  `WEFT_ECANCELED` gives
    /// [`Error::Cancelled`]; a code that is not negative is not an error
    /// code and gives `EINVAL` with a message saying so.
    pub fn new(code: i32, message: Option<&str>) -> Error {
        if code == e::WEFT_ECANCELED {
            return Error::Cancelled(message.map(str::to_owned));
        }
        if code >= 0 {
            return Error::Failed { code: Code::INVALID, message: Some(format!("{code} is not an error code")) };
        }
        Error::Failed { code: Code(code), message: message.map(str::to_owned) }
    }

    /// A cancellation, with an optional message.
    pub fn cancelled(message: Option<&str>) -> Error {
        Error::Cancelled(message.map(str::to_owned))
    }

    /// The code: `ECANCELED` for [`Error::Cancelled`].
    pub fn code(&self) -> Code {
        match self {
            Error::Cancelled(_) => Code::CANCELLED,
            Error::Failed { code, .. } => *code,
        }
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Cancelled(m) | Error::Failed { message: m, .. } => m.as_deref(),
        }
    }

    /// True for [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }

    /// True for `ETIMEDOUT` (from [`crate::wait_for`], [`crate::timeout`], ...).
    pub fn is_timeout(&self) -> bool {
        self.code() == Code::TIMED_OUT
    }

    /// True for a task that panicked (its error is `EUNHANDLED`, and the
    /// message starts with `"panicked: "`).
    pub fn is_panic(&self) -> bool {
        self.code() == Code::UNHANDLED && self.message().is_some_and(|m| m.starts_with("panicked: "))
    }

    pub(crate) fn from_code(code: c_int) -> Error {
        Error::new(code, None)
    }

    pub(crate) fn with_message(code: c_int, message: &str) -> Error {
        Error::new(code, Some(message))
    }

    /// The error of a handle-returning call that returned NULL.
    pub(crate) fn last() -> Error {
        // SAFETY: any thread.
        let code = unsafe { sys::weft_last_error() };
        Error::from_code(if code < 0 { code } else { e::WEFT_ENOMEM })
    }

    /// The outcome `code` of `raw` (a done future), with its message.
    pub(crate) unsafe fn of_future(raw: *const sys::weft_future_t, code: c_int) -> Error {
        let m = sys::weft_future_error_message(raw);
        if m.is_null() {
            Error::from_code(code)
        } else {
            Error::new(code, Some(&CStr::from_ptr(m).to_string_lossy()))
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled(None) => f.write_str("cancelled"),
            Error::Cancelled(Some(m)) => write!(f, "cancelled: {m}"),
            Error::Failed { code, message: None } => write!(f, "{code}"),
            Error::Failed { code, message: Some(m) } => write!(f, "{code}: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// `Ok(rc)` for a non-negative C status, else the error.
pub(crate) fn check(rc: c_int) -> Result<c_int> {
    if rc < 0 {
        Err(Error::from_code(rc))
    } else {
        Ok(rc)
    }
}
