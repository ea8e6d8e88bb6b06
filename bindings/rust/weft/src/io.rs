//! What the I/O modules share: [`Op`] (a weft future whose result is a
//! handle or a record), C strings, paths and socket addresses.
use std::ffi::{CStr, CString};
use std::fmt;
use std::future::Future as StdFuture;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::raw::{c_char, c_int, c_uint};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{Error, Result};
use crate::future::Future;
use crate::value::Value;

type Decode<T> = unsafe fn(*mut sys::weft_future_t) -> Result<T>;

/// An I/O operation in flight (`Op<Bytes>` for a read, `Op<Stream>` for
/// a connect, `Op<ExitStatus>` for a process wait, ...): a weft future
/// whose result is decoded as `T`.  Awaiting it gives that value or the
/// operation's error.  The operation started when the `Op` was made
/// (asyncio style).
///
/// **Dropping a pending `Op` cancels it**, as cancelling it
/// ([`Op::cancel`]) or the task awaiting it does: a read consumes nothing,
/// a receive leaves its datagram to the next one, a connect closes its
/// half-open socket, a lookup is dropped, a signal is no longer watched, a
/// process wait kills the child (see each constructor).
///
/// It is backed by a weft future, so [`crate::wait_for`], [`crate::shield`]
/// and [`crate::gather`] take it, and C can await it ([`Op::as_ptr`]).  A
/// shield keeps the operation going while the [`crate::Shield`] lives:
/// await `&mut shield` and take the op back with
/// [`crate::Shield::into_inner`] to finish it after a cancellation.
///
/// ```
/// let r = weft::run(async {
///     // nothing listens on port 1 of 127.0.0.1: refused (or timed out)
///     let op = weft::net::Stream::connect("127.0.0.1", 1);
///     weft::wait_for(op, 5.0).await.map(drop)
/// });
/// assert!(r.unwrap().is_err());
/// ```
pub struct Op<T> {
    fut: Future<()>,
    decode: Decode<T>,
}

impl<T> Op<T> {
    /// An op over the new future `r` (or its creation error).
    pub(crate) fn new(r: Result<*mut sys::weft_future_t>, decode: Decode<T>) -> Op<T> {
        Op { fut: Future::from_result(r), decode }
    }

    /// Cancels the operation (see the constructor for what that does).
    /// True if it was pending.
    pub fn cancel(&self) -> bool {
        self.fut.cancel()
    }

    /// True once the operation is done (awaiting it then gives its outcome
    /// at once).
    pub fn is_done(&self) -> bool {
        self.fut.is_done()
    }

    /// The outcome if the operation is done (`None` while it is pending).
    pub fn try_result(&self) -> Option<Result<T>> {
        match self.fut.state() {
            crate::State::Pending => None,
            // SAFETY: done, made by our C call (or broken: NULL is never decoded)
            _ => Some(self.fut.result().and_then(|()| unsafe { (self.decode)(self.fut.as_ptr()) })),
        }
    }

    /// The C future (borrowed; NULL if the operation could not start), for
    /// C code that awaits it.  Its result belongs to the operation: do not
    /// set it.
    pub fn as_ptr(&self) -> *mut sys::weft_future_t {
        self.fut.as_ptr()
    }
}

impl<T: Value> Op<T> {
    /// An op whose result is read as the weft value `T`.
    pub(crate) fn value(r: Result<*mut sys::weft_future_t>) -> Op<T> {
        Op::new(r, T::read)
    }
}

impl<T> StdFuture for Op<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match Pin::new(&mut self.fut).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            // SAFETY: done with a result of the kind `decode` reads (our C
            // call made the future)
            Poll::Ready(Ok(())) => Poll::Ready(unsafe { (self.decode)(self.fut.as_ptr()) }),
        }
    }
}

impl<T> Unpin for Op<T> {}

impl<T> Drop for Op<T> {
    fn drop(&mut self) {
        // the C side may hold the future (a stream's pending read, a
        // socket's receive): dropping our reference alone would leave the
        // operation running for nobody
        self.fut.cancel();
    }
}

impl<T> fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Op").field(&self.fut).finish()
    }
}

impl<T> crate::combinators::sealed::Sealed for Op<T> {}
impl<T> crate::AsFuture for Op<T> {
    fn future_ptr(&self) -> Result<*mut sys::weft_future_t> {
        self.fut.future_ptr()
    }
}

/// The loop running on this thread, or `ESTATE`.
pub(crate) fn running_loop() -> Result<*mut sys::weft_loop_t> {
    // SAFETY: any thread; borrowed pointer
    let lp = unsafe { sys::weft_loop_running() };
    if lp.is_null() {
        Err(crate::no_loop())
    } else {
        Ok(lp)
    }
}

/// A new future made by `make` on the running loop (NULL: weft_last_error).
pub(crate) fn on_loop(
    make: impl FnOnce(*mut sys::weft_loop_t) -> *mut sys::weft_future_t,
) -> Result<*mut sys::weft_future_t> {
    crate::event_loop::nonnull(make(running_loop()?))
}

/// `s` as a C string; an interior NUL is `EINVAL`.
pub(crate) fn c_str(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::with_message(e::WEFT_EINVAL, "a string with a NUL byte"))
}

/// A path as a C string (its bytes, as Unix has them).
pub(crate) fn c_path(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::with_message(e::WEFT_EINVAL, "a path with a NUL byte"))
}

/// A borrowed C string as a `String` (None for NULL).
pub(crate) unsafe fn owned_str(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

extern "C" {
    // libc's, which std links already
    fn if_nametoindex(name: *const c_char) -> c_uint;
    fn if_indextoname(index: c_uint, name: *mut c_char) -> *mut c_char;
}

/// Parses weft's numeric address text ("127.0.0.1", "::1",
/// "fe80::1%eth0") and a port.
pub(crate) fn parse_addr(text: &str, port: c_int) -> Result<SocketAddr> {
    let bad = || Error::with_message(e::WEFT_EINVAL, &format!("not a socket address: {text} port {port}"));
    let port = u16::try_from(port).map_err(|_| bad())?;
    if let Some((ip, zone)) = text.split_once('%') {
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
        let scope = zone.parse::<u32>().unwrap_or_else(|_| {
            let name = CString::new(zone).unwrap_or_default();
            // SAFETY: a NUL-terminated name
            unsafe { if_nametoindex(name.as_ptr()) }
        });
        return Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)));
    }
    let ip: IpAddr = text.parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip, port))
}

/// The numeric text weft takes for `addr`'s IP ("fe80::1%eth0" for a
/// scoped IPv6 address).
pub(crate) fn ip_text(addr: &SocketAddr) -> CString {
    let mut s = addr.ip().to_string();
    if let SocketAddr::V6(v6) = addr {
        if v6.scope_id() != 0 {
            let mut name = [0 as c_char; 64];
            // SAFETY: the buffer is larger than IF_NAMESIZE
            let p = unsafe { if_indextoname(v6.scope_id(), name.as_mut_ptr()) };
            s.push('%');
            match unsafe { owned_str(p) } {
                Some(n) => s.push_str(&n),
                None => s.push_str(&v6.scope_id().to_string()),
            }
        }
    }
    CString::new(s).unwrap_or_default()
}

/// Reads an address with a C call of the `weft_stream_peer_address`
/// shape: `Ok((text, port))`, port -1 for a Unix socket.
pub(crate) fn read_address(call: impl Fn(*mut c_char, usize, *mut c_int) -> c_int) -> Result<(Vec<u8>, c_int)> {
    let mut buf = vec![0u8; 128];
    let mut port: c_int = -1;
    let mut n = call(buf.as_mut_ptr() as *mut c_char, buf.len(), &mut port);
    if n >= 0 && n as usize >= buf.len() {
        buf = vec![0u8; n as usize + 1];
        n = call(buf.as_mut_ptr() as *mut c_char, buf.len(), &mut port);
    }
    if n < 0 {
        return Err(Error::from_code(n));
    }
    buf.truncate(n as usize);
    Ok((buf, port))
}

/// The socket address of `read_address`'s answer (`EAFNOSUPPORT` for a
/// Unix socket).
pub(crate) fn inet_address(r: Result<(Vec<u8>, c_int)>) -> Result<SocketAddr> {
    let (text, port) = r?;
    if port < 0 {
        return Err(Error::with_message(e::WEFT_EAFNOSUPPORT, "a Unix socket has a path, not an IP address"));
    }
    parse_addr(&String::from_utf8_lossy(&text), port)
}

/// The path of `read_address`'s answer (`EAFNOSUPPORT` for TCP).
pub(crate) fn unix_path(r: Result<(Vec<u8>, c_int)>) -> Result<std::path::PathBuf> {
    let (text, port) = r?;
    if port >= 0 {
        return Err(Error::with_message(e::WEFT_EAFNOSUPPORT, "a TCP socket has an IP address, not a path"));
    }
    Ok(std::ffi::OsString::from_vec(text).into())
}
