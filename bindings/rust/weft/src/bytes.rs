//! Bytes that a weft future holds, read in place.
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

use weft_sys as sys;

use crate::error::{Error, Result};
use crate::value::{sealed, Value};

/// The bytes result of a weft future (a stream or file read, a whole-file
/// read, ...), borrowed in place: no copy out of the future.  It keeps one
/// reference to the done future, whose bytes never change, and derefs to
/// `[u8]`.  `Clone` adds a reference (no copy); [`Bytes::to_vec`] and
/// `Vec::from` copy.
///
/// As a [`Value`], `Future<Bytes>` reads any bytes result (`ETYPE` for
/// another type) and [`crate::Future::set_result`] copies the bytes in.
/// `Bytes` is `!Send`, like the future it holds: copy it to a `Vec` to
/// hand the data to another thread.
///
/// ```
/// let v = weft::run(async {
///     let f = weft::create_future::<Vec<u8>>();
///     f.set_result(b"hello".to_vec()).unwrap();
///     let b: weft::Bytes = f.cast::<weft::Bytes>().await.unwrap();
///     assert_eq!(b, b"hello");
///     assert_eq!(&b[1..3], b"el");
///     b.to_vec()
/// });
/// assert_eq!(v.unwrap(), b"hello".to_vec());
/// ```
pub struct Bytes {
    fut: Option<NonNull<sys::weft_future_t>>,
    data: *const u8,
    len: usize,
    _not_send: PhantomData<*const ()>,
}

impl Bytes {
    /// No bytes (holds no future).
    pub fn new() -> Bytes {
        Bytes { fut: None, data: NonNull::dangling().as_ptr(), len: 0, _not_send: PhantomData }
    }

    /// The bytes as a slice (also through `Deref`).
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `data` points at `len` bytes owned by the done future we
        // hold a reference to (or is dangling with len 0)
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    /// A copy in a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }

    /// The bytes as UTF-8 text, or `ECHARSET`.
    pub fn to_str(&self) -> Result<&str> {
        std::str::from_utf8(self.as_slice())
            .map_err(|_| Error::with_message(sys::weft_errno::WEFT_ECHARSET, "the bytes are not UTF-8"))
    }

    /// Wraps the bytes result of the done future `raw` (adds a reference).
    pub(crate) unsafe fn of_future(raw: *mut sys::weft_future_t) -> Result<Bytes> {
        let mut data: *const c_void = std::ptr::null();
        let mut len = 0usize;
        let rc = sys::weft_future_result_bytes(raw, &mut data, &mut len);
        if rc != 0 {
            return Err(Error::of_future(raw, rc));
        }
        if len == 0 || data.is_null() {
            return Ok(Bytes::new());
        }
        let fut = NonNull::new(sys::weft_future_ref(raw));
        Ok(Bytes { fut, data: data as *const u8, len, _not_send: PhantomData })
    }
}

impl Default for Bytes {
    fn default() -> Bytes {
        Bytes::new()
    }
}

impl Clone for Bytes {
    fn clone(&self) -> Bytes {
        // SAFETY: any-thread ref of the future we hold
        let fut = self.fut.map(|p| unsafe { NonNull::new_unchecked(sys::weft_future_ref(p.as_ptr())) });
        Bytes { fut, data: self.data, len: self.len, _not_send: PhantomData }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Some(p) = self.fut.take() {
            // SAFETY: our reference (the future is done: nothing is cancelled)
            unsafe { sys::weft_future_unref(p.as_ptr()) };
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<T: AsRef<[u8]> + ?Sized> PartialEq<T> for Bytes {
    fn eq(&self, other: &T) -> bool {
        self.as_slice() == other.as_ref()
    }
}

impl Eq for Bytes {}

impl Hash for Bytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Vec<u8> {
        b.to_vec()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &c in self.as_slice() {
            for e in std::ascii::escape_default(c) {
                fmt::Write::write_char(f, e as char)?;
            }
        }
        f.write_str("\"")
    }
}

impl sealed::Sealed for Bytes {}
impl Value for Bytes {
    unsafe fn read(raw: *mut sys::weft_future_t) -> Result<Bytes> {
        Bytes::of_future(raw)
    }
    unsafe fn write(&self, raw: *mut sys::weft_future_t) -> c_int {
        sys::weft_future_set_bytes(raw, self.data as *const c_void, self.len)
    }
}
