//! The values a weft future can carry, and what a Rust task may return.
//!
//! A weft future's result is one of: no value, an `int64`, a `double`, bytes
//! (copied into the future), or a pointer.  [`Value`] is the set of Rust
//! types that map to one of those, so that C (and the Lua and Go bindings)
//! can read what Rust set, and the other way round:
//!
//! | Rust | weft result |
//! |---|---|
//! | `()` | none (reading `()` accepts a result of any type) |
//! | `bool`, `i32`, `u32`, `i64`, `u64`, `usize` | `int64` (out of range: `ERANGE`) |
//! | `f64` | `double` |
//! | `Vec<u8>`, `String` | bytes (a `String` must be UTF-8: `ECHARSET`) |
//! | [`AnyValue`] | whatever it holds (read: whatever the future holds) |
//!
//! Reading a result of another type fails with `ETYPE`.
//!
//! Safe code never *writes* a pointer result ([`AnyValue::Ptr`] is refused
//! with `ETYPE` by the safe setters) and reading never reinterprets one:
//! see the crate's "Soundness" rule (lib.rs).
use std::os::raw::{c_int, c_void};

use weft_sys as sys;
use weft_sys::weft_errno as e;
use weft_sys::weft_value_type as vt;

use crate::error::{Error, Result};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A Rust type that travels through a weft future as a weft value (see the
/// module documentation for the mapping).  Sealed: implemented for the
/// types listed there.
pub trait Value: sealed::Sealed + Sized + 'static {
    #[doc(hidden)]
    /// Reads the outcome of the done future `raw` (owner thread).
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<Self>;
    #[doc(hidden)]
    /// Sets it as the result of `raw`; returns the C status.
    /// `ETYPE` means the value was refused (an [`AnyValue::Ptr`]): the C
    /// setters never return it.
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int;
    #[doc(hidden)]
    /// As `read`, or `None` while `raw` is pending: for a future that is
    /// probably done, one call instead of a done check and a read.
    unsafe fn try_read(raw: *mut sys::weft_future_t) -> Option<Result<Self>> {
        if sys::weft_future_done(raw) == 0 {
            None
        } else {
            Some(Self::read(raw))
        }
    }
}

/// The status `Value::write` returns for a value safe code may not set.
const REFUSED: c_int = e::WEFT_ETYPE;

fn ptr_refused(what: &str) -> Error {
    Error::with_message(
        REFUSED,
        &format!("{what} cannot be a pointer (AnyValue::Ptr) from safe code: see Future::set_result_ptr"),
    )
}

/// Sets `value` as the result of `raw` (the safe setters): a refused
/// pointer is an `ETYPE` error that says why.
pub(crate) unsafe fn set_value<T: Value>(value: &T, raw: *mut sys::weft_future_t) -> Result<()> {
    match value.write(raw) {
        rc if rc >= 0 => Ok(()),
        REFUSED => Err(ptr_refused("a future's result")),
        rc => Err(Error::from_code(rc)),
    }
}

/// Whether a getter's status `rc` means that `raw` is still pending (a
/// future may also have *failed* with the code `EPENDING`).
unsafe fn still_pending(raw: *mut sys::weft_future_t, rc: c_int) -> bool {
    rc == e::WEFT_EPENDING && sys::weft_future_done(raw) == 0
}

/// `Ok(())` if the done future `raw` has a result (of any type), else its error.
pub(crate) unsafe fn outcome(raw: *mut sys::weft_future_t) -> Result<()> {
    let rc = sys::weft_future_error(raw);
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::of_future(raw, rc))
    }
}

unsafe fn read_i64(raw: *mut sys::weft_future_t) -> Result<i64> {
    let mut v = 0i64;
    let rc = sys::weft_future_result_int64(raw, &mut v);
    if rc == 0 {
        Ok(v)
    } else {
        Err(Error::of_future(raw, rc))
    }
}

unsafe fn try_read_i64(raw: *mut sys::weft_future_t) -> Option<Result<i64>> {
    let mut v = 0i64;
    match sys::weft_future_result_int64(raw, &mut v) {
        0 => Some(Ok(v)),
        rc if still_pending(raw, rc) => None,
        rc => Some(Err(Error::of_future(raw, rc))),
    }
}

impl sealed::Sealed for () {}
impl Value for () {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<()> {
        outcome(raw)
    }
    unsafe fn try_read(raw: *mut sys::weft_future_t) -> Option<Result<()>> {
        match sys::weft_future_error(raw) {
            0 => Some(Ok(())),
            rc if still_pending(raw, rc) => None,
            rc => Some(Err(Error::of_future(raw, rc))),
        }
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_none(raw)
    }
}

fn int_from<T: TryFrom<i64>>(v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| {
        Error::with_message(e::WEFT_ERANGE, &format!("the int64 result does not fit {}", std::any::type_name::<T>()))
    })
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Value for $t {
            unsafe fn read(raw: *mut sys::weft_future_t) -> Result<$t> {
                int_from(read_i64(raw)?)
            }
            unsafe fn try_read(raw: *mut sys::weft_future_t) -> Option<Result<$t>> {
                try_read_i64(raw).map(|r| r.and_then(int_from))
            }
            unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
                match i64::try_from(*self) {
                    Ok(v) => sys::weft_future_set_int64(raw, v),
                    Err(_) => e::WEFT_ERANGE,
                }
            }
        }
    )*};
}
int_value!(i32, u32, i64, u64, usize);

impl sealed::Sealed for bool {}
impl Value for bool {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<bool> {
        Ok(read_i64(raw)? != 0)
    }
    unsafe fn try_read(raw: *mut sys::weft_future_t) -> Option<Result<bool>> {
        try_read_i64(raw).map(|r| r.map(|v| v != 0))
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_int64(raw, *self as i64)
    }
}

impl sealed::Sealed for f64 {}
impl Value for f64 {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<f64> {
        let mut v = 0f64;
        let rc = sys::weft_future_result_double(raw, &mut v);
        if rc == 0 {
            Ok(v)
        } else {
            Err(Error::of_future(raw, rc))
        }
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_double(raw, *self)
    }
}

unsafe fn read_bytes(raw: *mut sys::weft_future_t) -> Result<Vec<u8>> {
    let mut data: *const c_void = std::ptr::null();
    let mut len = 0usize;
    let rc = sys::weft_future_result_bytes(raw, &mut data, &mut len);
    if rc != 0 {
        return Err(Error::of_future(raw, rc));
    }
    Ok(std::slice::from_raw_parts(data as *const u8, len).to_vec())
}

impl sealed::Sealed for Vec<u8> {}
impl Value for Vec<u8> {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<Vec<u8>> {
        read_bytes(raw)
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_bytes(raw, self.as_ptr() as *const c_void, self.len())
    }
}

impl sealed::Sealed for String {}
impl Value for String {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<String> {
        String::from_utf8(read_bytes(raw)?)
            .map_err(|_| Error::with_message(e::WEFT_ECHARSET, "the bytes result is not UTF-8"))
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_bytes(raw, self.as_ptr() as *const c_void, self.len())
    }
}

/// Any weft value, as C sees it: what a future of unknown type holds.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyValue {
    /// No value (`WEFT_VALUE_NONE`).
    None,
    /// An `int64`.
    Int(i64),
    /// A `double`.
    Double(f64),
    /// Bytes (copied out of the future).
    Bytes(Vec<u8>),
    /// A pointer result (`WEFT_VALUE_PTR`), borrowed from the future that
    /// owns it: valid while that future lives.  Only `unsafe` code can
    /// dereference it, and only `unsafe` code can set one
    /// ([`crate::Future::set_result_ptr`]): the safe setters refuse it with
    /// `ETYPE` (see [the rules](crate#rules)).
    Ptr(*mut c_void),
}

impl sealed::Sealed for AnyValue {}
impl Value for AnyValue {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<AnyValue> {
        outcome(raw)?;
        match sys::weft_future_result_type(raw) as u32 {
            vt::WEFT_VALUE_INT64 => read_i64(raw).map(AnyValue::Int),
            vt::WEFT_VALUE_DOUBLE => f64::read(raw).map(AnyValue::Double),
            vt::WEFT_VALUE_BYTES => read_bytes(raw).map(AnyValue::Bytes),
            vt::WEFT_VALUE_PTR => {
                let mut p: *mut c_void = std::ptr::null_mut();
                let rc = sys::weft_future_result_ptr(raw, &mut p);
                if rc != 0 {
                    return Err(Error::of_future(raw, rc));
                }
                Ok(AnyValue::Ptr(p))
            }
            _ => Ok(AnyValue::None),
        }
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        match self {
            AnyValue::None => sys::weft_future_set_none(raw),
            AnyValue::Int(v) => sys::weft_future_set_int64(raw, *v),
            AnyValue::Double(v) => sys::weft_future_set_double(raw, *v),
            AnyValue::Bytes(v) => v.write(raw),
            // its readers may dereference it: only the unsafe setter may
            AnyValue::Ptr(_) => REFUSED,
        }
    }
}

/// A task output that only Rust reads: C, Lua and Go see a result with no
/// value.  Wrap a value of any type in it to return it from a spawned task
/// (`spawn(async { Local(vec![1, 2]) })`); the [`crate::JoinHandle`] gives
/// it back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Local<T>(pub T);

mod publish {
    pub trait Publish: 'static {
        /// Sets the C result of a finishing task's future.
        unsafe fn publish(&self, raw: *mut weft_sys::weft_future_t) -> std::os::raw::c_int;
    }
}
use publish::Publish;

impl<T: Value> Publish for T {
    unsafe fn publish(&self, raw: *mut sys::weft_future_t) -> c_int {
        match self.write(raw) {
            REFUSED => {
                // the task fails with a message that says why (C readers see
                // it; the JoinHandle still gives the value back)
                let m =
                    std::ffi::CString::new(ptr_refused("a task's output").message().unwrap_or("")).unwrap_or_default();
                sys::weft_future_set_error(raw, REFUSED, m.as_ptr());
                REFUSED
            }
            rc => rc,
        }
    }
}
impl<T: 'static> Publish for Local<T> {
    unsafe fn publish(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_none(raw)
    }
}

/// What the future of a spawned Rust task may return: a [`Value`] (C reads
/// it as the task's result), a [`Local`] (only Rust reads it), or a
/// `Result` of either with [`Error`]: `Err(Error::Cancelled(_))` ends the
/// task cancelled, any other `Err` ends it failed with that code and message.
///
/// An output C cannot hold fails the task's C future while the
/// [`crate::JoinHandle`] still gives the value back: an integer out of the
/// `int64` range (`ERANGE`), an [`AnyValue::Ptr`] (`ETYPE`: safe code does
/// not publish pointers, see [the rules](crate#rules)).
pub trait TaskOutput: 'static {
    /// What awaiting the task's [`crate::JoinHandle`] gives on success.
    type Ok: 'static;
    #[doc(hidden)]
    /// Completes the task's C future from this output; returns what the
    /// step returns.
    unsafe fn finish(&self, raw: *mut sys::weft_future_t) -> c_int;
    #[doc(hidden)]
    fn into_result(self) -> Result<Self::Ok>;
}

const DONE: c_int = sys::weft_step_result::WEFT_STEP_DONE as c_int;

fn done_or(rc: c_int) -> c_int {
    if rc < 0 {
        rc
    } else {
        DONE
    }
}

impl<T: Publish> TaskOutput for T {
    type Ok = T;
    unsafe fn finish(&self, raw: *mut sys::weft_future_t) -> c_int {
        done_or(self.publish(raw))
    }
    fn into_result(self) -> Result<T> {
        Ok(self)
    }
}

impl<T: Publish> TaskOutput for Result<T> {
    type Ok = T;
    unsafe fn finish(&self, raw: *mut sys::weft_future_t) -> c_int {
        match self {
            Ok(v) => done_or(v.publish(raw)),
            Err(Error::Cancelled(_)) => e::WEFT_ECANCELED,
            Err(err) => {
                let msg = err.message().and_then(|m| std::ffi::CString::new(m).ok());
                let rc = sys::weft_future_set_error(
                    raw,
                    err.code().0,
                    msg.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
                );
                if rc == 0 {
                    DONE
                } else {
                    err.code().0
                }
            }
        }
    }
    fn into_result(self) -> Result<T> {
        self
    }
}
