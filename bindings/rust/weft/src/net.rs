//! Networking: TCP and Unix-socket [`Stream`]s, [`Server`]s, and UDP
//! ([`UdpSocket`], [`Datagram`]), over `weft/stream.h` and `weft/udp.h`.
//!
//! A [`Stream`] is asyncio's `StreamReader` and `StreamWriter` in one
//! handle (tokio's `TcpStream` / `UnixStream` shapes):
//!
//! | asyncio | Rust |
//! |---|---|
//! | `open_connection(host, port)` | [`Stream::connect`] |
//! | `open_unix_connection(path)` | [`Stream::connect_unix`] |
//! | `reader.read(n)`, `read()` | [`Stream::read`], [`Stream::read_to_end`] |
//! | `readexactly(n)`, `readuntil(sep)`, `readline()` | [`Stream::read_exact`], [`Stream::read_until`], [`Stream::read_line`] |
//! | `writer.write(b)` + `await drain()` | [`Stream::write`] + [`Stream::drain`], or [`Stream::write_all`] |
//! | `write_eof()`, `close()`, `wait_closed()` | [`Stream::write_eof`], [`Stream::close`], [`Stream::wait_closed`] |
//! | `get_extra_info("peername")` | [`Stream::peer_addr`] (a `std::net::SocketAddr`) |
//! | `start_server(cb, host, port)` | [`Server::bind`] + [`Server::serve`] (a task per connection) or [`Server::accept`] |
//!
//! Reads, drains and connects are [`Op`]s (weft futures), started when
//! called: they work with [`crate::wait_for`], [`crate::timeout`] and
//! [`crate::select`].  Dropping a pending read (or cancelling it, or the
//! task awaiting it) consumes nothing: the bytes stay buffered for the next
//! read.  One read may wait at a time (a second one fails with `EBUSY`).
//!
//! Every handle belongs to the thread of the loop it was made on (they
//! are `!Send`); the constructors use the loop running on this thread.
//!
//! ```
//! use weft::net::{Server, Stream};
//!
//! let echoed = weft::run(async {
//!     let server = Server::bind("127.0.0.1", 0).await?;
//!     server.serve(|conn: Stream| async move {
//!         while let Ok(line) = conn.read_line().await {
//!             if line.is_empty() {
//!                 break; // end of file
//!             }
//!             conn.write_all(&line).await?;
//!         }
//!         Ok::<(), weft::Error>(())
//!     })?;
//!     let port = server.local_addr()?.port();
//!     let client = Stream::connect("127.0.0.1", port).await?;
//!     client.write(b"hello\n")?;
//!     let line = client.read_line().await?;
//!     client.close()?;
//!     server.close()?;
//!     Ok::<_, weft::Error>(line.to_vec())
//! });
//! assert_eq!(echoed.unwrap().unwrap(), b"hello\n");
//! ```
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future as StdFuture;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::ptr::{null_mut, NonNull};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::bytes::Bytes;
use crate::error::{check, Error, Result};
use crate::event_loop::{nonnull, LoopRef};
use crate::future::Future;
use crate::io::{c_path, c_str, inet_address, on_loop, read_address, unix_path, Op};
use crate::value::TaskOutput;

pub use crate::udp::{Datagram, ToSocketAddr, UdpFlags, UdpSocket};

/// What a [`Stream`] is connected through (`enum weft_stream_kind`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StreamKind {
    /// A TCP connection (IPv4 or IPv6).
    Tcp,
    /// A Unix domain socket.
    Unix,
    /// A subprocess's stdin, stdout or stderr ([`crate::process`]).
    Pipe,
}

/// A byte stream (`weft_stream_t`): a TCP connection, a Unix socket or a
/// subprocess's pipe; asyncio's reader and writer in one (see the module
/// documentation).
///
/// `Clone` adds a reference to the same stream (one task may read while
/// another writes).  Dropping the last reference closes the stream as
/// [`Stream::close`] does (queued bytes are still written); the loop's
/// close closes every stream.  Methods that cannot wait return at once;
/// the others return [`Op`]s.
pub struct Stream {
    raw: NonNull<sys::weft_stream_t>,
    _not_send: PhantomData<*const ()>,
}

/// A read failed: [`Stream::read_exact`] or [`Stream::read_until`] met the
/// end of file first (`EINCOMPLETE`, asyncio's `IncompleteReadError`), or
/// another error.  For an early end of file, `partial` holds the bytes that
/// did arrive (taken off the stream); otherwise it is empty.
/// `?` turns it into an [`Error`] (dropping `partial`).
#[derive(Clone, Debug)]
pub struct ReadError {
    /// What failed: `EINCOMPLETE`, `ELIMIT` (no delimiter within the
    /// limit; the bytes stay buffered), a connection error, a cancellation.
    pub error: Error,
    /// The bytes that arrived before the end of file.
    pub partial: Bytes,
}

impl ReadError {
    /// True for an end of file before the request was met (`EINCOMPLETE`).
    pub fn is_incomplete(&self) -> bool {
        self.error.code().0 == e::WEFT_EINCOMPLETE
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ReadError> for Error {
    fn from(r: ReadError) -> Error {
        r.error
    }
}

impl From<Error> for ReadError {
    fn from(error: Error) -> ReadError {
        ReadError { error, partial: Bytes::new() }
    }
}

/// The future of [`Stream::read_exact`] and [`Stream::read_until`]: the
/// bytes, or a [`ReadError`] carrying the partial bytes of an early end of
/// file.  Dropping it while pending consumes nothing.
#[derive(Debug)]
pub struct ReadExact {
    read: Op<Bytes>,
    stream: Stream,
}

impl ReadExact {
    /// Abandons the read (nothing is consumed); true if it was pending.
    pub fn cancel(&self) -> bool {
        self.read.cancel()
    }
}

impl StdFuture for ReadExact {
    type Output = std::result::Result<Bytes, ReadError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.read).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(b)) => Poll::Ready(Ok(b)),
            Poll::Ready(Err(error)) => {
                let mut partial = Bytes::new();
                if error.code().0 == e::WEFT_EINCOMPLETE {
                    // the bytes that arrived left the stream with the failure
                    partial = self.stream.partial();
                }
                Poll::Ready(Err(ReadError { error, partial }))
            }
        }
    }
}

/// The future of [`Stream::read_into`]: the count of bytes placed at the
/// start of the buffer (0 at end of file) or the read's error, and the
/// buffer back in both cases.  Dropping it while pending cancels the read
/// (nothing is consumed) before the buffer is freed.
#[derive(Debug)]
pub struct ReadInto {
    op: Op<usize>,
    buf: Option<Vec<u8>>,
}

impl ReadInto {
    /// Abandons the read (nothing is consumed); true if it was pending.
    /// Awaiting it then gives `ECANCELED` and the untouched buffer.
    pub fn cancel(&self) -> bool {
        self.op.cancel()
    }
}

impl StdFuture for ReadInto {
    type Output = (Result<usize>, Vec<u8>);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.op).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => Poll::Ready((r, self.buf.take().expect("ReadInto polled after it completed"))),
        }
    }
}

impl Drop for ReadInto {
    fn drop(&mut self) {
        // weft writes into the buffer until the read is over: end it first
        self.op.cancel();
        if !self.op.is_done() {
            // cannot happen on the loop's thread; never free what C may write
            std::mem::forget(self.buf.take());
        }
    }
}

thread_local! {
    /// The buffers of `write_owned` that weft holds: data pointer -> the
    /// `Box<Vec<u8>>` (as an address, so that a buffer weft never released
    /// shows up as a leak).
    static OWNED: RefCell<HashMap<usize, usize>> = RefCell::new(HashMap::new());
}

unsafe extern "C" fn release_owned(data: *mut c_void) {
    // a thread without its thread-locals any more leaks the buffer rather
    // than panic into C
    let b = OWNED.try_with(|m| m.try_borrow_mut().ok().and_then(|mut m| m.remove(&(data as usize))));
    if let Ok(Some(b)) = b {
        drop(Box::from_raw(b as *mut Vec<u8>));
    }
}

impl Stream {
    /// Opens a TCP connection to `host` (a name or a numeric IPv4/IPv6
    /// address) and `port` (asyncio `open_connection`,
    /// `weft_stream_connect_tcp`), on the running loop.  A name is resolved
    /// first and its addresses tried in order.  TCP_NODELAY is on.  Fails
    /// with `ECONNREFUSED`, `ETIMEDOUT`, a `EAI_*` resolver code, ...;
    /// dropping or cancelling the pending [`Op`] stops the resolution or
    /// closes the half-open socket.
    pub fn connect(host: &str, port: u16) -> Op<Stream> {
        let r = c_str(host)
            .and_then(|h| on_loop(|lp| unsafe { sys::weft_stream_connect_tcp(lp, h.as_ptr(), port.into()) }));
        Op::new(r, stream_of)
    }

    /// Connects to the Unix domain socket at `path` (asyncio
    /// `open_unix_connection`); fails with `ENOENT`, `ECONNREFUSED`, ...
    pub fn connect_unix(path: impl AsRef<Path>) -> Op<Stream> {
        let r =
            c_path(path.as_ref()).and_then(|p| on_loop(|lp| unsafe { sys::weft_stream_connect_unix(lp, p.as_ptr()) }));
        Op::new(r, stream_of)
    }

    /// Wraps `raw`, adding a reference (the caller keeps its own).
    ///
    /// # Safety
    /// `raw` must be a live weft stream of a loop owned by this thread.
    pub unsafe fn from_borrowed(raw: *mut sys::weft_stream_t) -> Stream {
        Stream {
            raw: NonNull::new(sys::weft_stream_ref(raw)).expect("Stream::from_borrowed(NULL)"),
            _not_send: PhantomData,
        }
    }

    /// The C stream (borrowed).
    pub fn as_ptr(&self) -> *mut sys::weft_stream_t {
        self.raw.as_ptr()
    }

    fn p(&self) -> *mut sys::weft_stream_t {
        self.raw.as_ptr()
    }

    /// What the last read to fail with `EINCOMPLETE` received
    /// (`weft_stream_partial`), copied into a future of its own (a
    /// [`Bytes`] holds a future).
    fn partial(&self) -> Bytes {
        let mut data: *const c_void = std::ptr::null();
        let mut len = 0usize;
        // SAFETY: live stream, on its loop's thread (a future's poll)
        unsafe {
            if sys::weft_stream_partial(self.p(), &mut data, &mut len) != 0 || len == 0 {
                return Bytes::new();
            }
            let f = sys::weft_future_new(sys::weft_stream_loop(self.p()));
            if f.is_null() {
                return Bytes::new();
            }
            let b = if sys::weft_future_set_bytes(f, data, len) == 0 {
                Bytes::of_future(f).unwrap_or_else(|_| Bytes::new())
            } else {
                Bytes::new()
            };
            sys::weft_future_unref(f);
            b
        }
    }

    fn read_op(&self, make: impl FnOnce(*mut sys::weft_stream_t) -> *mut sys::weft_future_t) -> Op<Bytes> {
        Op::value(nonnull(make(self.p())))
    }

    /// Reads up to `max` bytes, as soon as at least one is buffered
    /// (asyncio `read(n)`); 0 bytes means end of file (and `max` 0 gives 0
    /// bytes at once).  Fails with the connection's error, `EOBJCLOSED` if
    /// the stream is closed, `EBUSY` if another read is pending.
    pub fn read(&self, max: usize) -> Op<Bytes> {
        let n = i64::try_from(max).unwrap_or(i64::MAX);
        // SAFETY: live stream
        self.read_op(|s| unsafe { sys::weft_stream_read(s, n) })
    }

    /// Reads until end of file and gives everything (asyncio `read()`);
    /// the buffer grows without the limit, so keep it for output known to
    /// be small.
    pub fn read_to_end(&self) -> Op<Bytes> {
        // SAFETY: live stream
        self.read_op(|s| unsafe { sys::weft_stream_read(s, -1) })
    }

    /// Reads exactly `n` bytes (asyncio `readexactly`).  If the end of
    /// file comes first, the [`ReadError`] is `EINCOMPLETE` and carries
    /// the bytes that arrived.
    pub fn read_exact(&self, n: usize) -> ReadExact {
        // SAFETY: live stream
        ReadExact { read: self.read_op(|s| unsafe { sys::weft_stream_read_exactly(s, n) }), stream: self.clone() }
    }

    /// Reads up to and including the first `delim` (1 to 64 bytes; asyncio
    /// `readuntil`).  `EINCOMPLETE` at end of file (with the partial bytes,
    /// as [`Stream::read_exact`]); `ELIMIT` if the delimiter is not within
    /// the limit ([`Stream::set_limit`]; the bytes stay buffered).
    pub fn read_until(&self, delim: &[u8]) -> ReadExact {
        // SAFETY: live stream; the delimiter is copied
        let read =
            self.read_op(|s| unsafe { sys::weft_stream_read_until(s, delim.as_ptr() as *const c_void, delim.len()) });
        ReadExact { read, stream: self.clone() }
    }

    /// Reads one line, `\n` included (asyncio `readline`); at end of file
    /// the last unterminated line, then 0 bytes.  A line longer than the
    /// limit fails with `ELIMIT` and is discarded.
    pub fn read_line(&self) -> Op<Bytes> {
        // SAFETY: live stream
        self.read_op(|s| unsafe { sys::weft_stream_read_line(s) })
    }

    /// Reads up to `buf.len()` bytes into `buf` itself
    /// (`weft_stream_read_into`, asyncio `sock_recv_into`): bytes the stream
    /// already buffered are copied in, otherwise the socket's bytes are
    /// received straight into `buf` (no copy, no allocation).  The read
    /// owns the buffer while it runs and gives it back with the count of
    /// bytes placed at its start, 0 at end of file (an empty `buf` gives 0
    /// at once).  Errors as [`Stream::read`].
    ///
    /// The buffer is moved in rather than borrowed, as completion-based
    /// reads do (tokio-uring): weft writes into it from the loop, outside
    /// any poll, and a borrow would end if the future were leaked
    /// (`mem::forget`) while the read still targets it.  Dropping a
    /// pending [`ReadInto`] cancels the read first (nothing is consumed,
    /// nothing more is written) and then frees the buffer.
    ///
    /// ```
    /// use weft::net::{Server, Stream};
    ///
    /// let n = weft::run(async {
    ///     let server = Server::bind("127.0.0.1", 0).await?;
    ///     let client = Stream::connect("127.0.0.1", server.local_addr()?.port()).await?;
    ///     let conn = server.accept().await?;
    ///     client.write(b"ping")?;
    ///     let mut buf = vec![0u8; 65536]; // one buffer, reused read after read
    ///     let mut got = 0;
    ///     while got < 4 {
    ///         let (n, b) = conn.read_into(buf).await;
    ///         buf = b;
    ///         got += n?;
    ///     }
    ///     Ok::<_, weft::Error>(got)
    /// });
    /// assert_eq!(n.unwrap().unwrap(), 4);
    /// ```
    pub fn read_into(&self, mut buf: Vec<u8>) -> ReadInto {
        let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
        // SAFETY: live stream; the Vec's heap memory does not move while
        // the ReadInto owns it, and the ReadInto ends the read before it
        // lets go of it
        let op = Op::value(nonnull(unsafe { sys::weft_stream_read_into(self.p(), ptr, len) }));
        ReadInto { op, buf: Some(buf) }
    }

    /// True once the peer closed its side and every buffered byte was read
    /// (asyncio `at_eof`).
    pub fn at_eof(&self) -> bool {
        // SAFETY: live stream
        unsafe { sys::weft_stream_at_eof(self.p()) == 1 }
    }

    /// Sets the limit (64 KiB by default): the longest line or chunk
    /// [`Stream::read_line`] and [`Stream::read_until`] accept, and half
    /// the buffered size at which the stream stops reading the socket.
    /// `EINVAL` for 0 or more than 1 GiB.
    pub fn set_limit(&self, limit: usize) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_set_limit(self.p(), limit) }).map(drop)
    }

    /// The bytes read from the socket and not yet handed to a read.
    pub fn read_buffer_size(&self) -> Result<usize> {
        let mut n = 0usize;
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_read_buffer_size(self.p(), &mut n) })?;
        Ok(n)
    }

    /// Writes `data` (asyncio `write`): what the socket takes now is
    /// written, the rest is copied and queued, so `data` is free again at
    /// once.  Await [`Stream::drain`] for back-pressure.  Errors:
    /// `ESHUTDOWN` after [`Stream::write_eof`], `EOBJCLOSED` once closing,
    /// the connection's error (`EPIPE`, `ECONNRESET`, ...).
    pub fn write(&self, data: &[u8]) -> Result<()> {
        // SAFETY: live stream; the rest is copied
        check(unsafe { sys::weft_stream_write(self.p(), data.as_ptr() as *const c_void, data.len()) }).map(drop)
    }

    /// Writes `data` without copying it: the stream takes the buffer and
    /// drops it (later, on the loop) once written or abandoned.  Errors as
    /// [`Stream::write`] (the buffer is dropped then).
    pub fn write_owned(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        let v: Vec<u8> = data.into();
        if v.is_empty() {
            return self.write(&[]);
        }
        let ptr = v.as_ptr() as *mut c_void;
        let len = v.len();
        let owner = Box::into_raw(Box::new(v)) as usize;
        OWNED.with(|m| m.borrow_mut().insert(ptr as usize, owner));
        // SAFETY: live stream; on success weft calls release_owned(ptr)
        // exactly once, later, from the loop
        let rc = unsafe { sys::weft_stream_write_owned(self.p(), ptr, len, Some(release_owned)) };
        if rc != 0 {
            // not taken: the buffer is ours again
            OWNED.with(|m| m.borrow_mut().remove(&(ptr as usize)));
            // SAFETY: the box made above, not handed to weft
            drop(unsafe { Box::from_raw(owner as *mut Vec<u8>) });
        }
        check(rc).map(drop)
    }

    /// Waits until the write queue is down to the low water mark, if it is
    /// above the high one (asyncio `drain`); already done otherwise.  Fails
    /// with the stream's error or `EOBJCLOSED` (aborted).
    pub fn drain(&self) -> Op<()> {
        // SAFETY: live stream
        Op::value(nonnull(unsafe { sys::weft_stream_drain(self.p()) }))
    }

    /// [`Stream::write`], then [`Stream::drain`] (tokio's `write_all`).
    pub async fn write_all(&self, data: &[u8]) -> Result<()> {
        self.write(data)?;
        self.drain().await
    }

    /// Sets the water marks of [`Stream::drain`] (asyncio
    /// `set_write_buffer_limits`): `high` 0 means 64 KiB, `low` 0 means
    /// `high / 4`.  `EINVAL` if `low > high`.
    pub fn set_write_buffer_limits(&self, high: usize, low: usize) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_set_write_buffer_limits(self.p(), high, low) }).map(drop)
    }

    /// The bytes queued and not yet written (asyncio
    /// `get_write_buffer_size`).
    pub fn write_buffer_size(&self) -> Result<usize> {
        let mut n = 0usize;
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_write_buffer_size(self.p(), &mut n) })?;
        Ok(n)
    }

    /// Closes the writing side once the queue is written (asyncio
    /// `write_eof`, a half close): the peer reads end of file, this side
    /// can still read.  Later writes fail with `ESHUTDOWN`.
    pub fn write_eof(&self) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_write_eof(self.p()) }).map(drop)
    }

    /// Closes the stream (asyncio `close`): a pending read fails with
    /// `EOBJCLOSED`, the socket closes once the queue is written.  Closing
    /// twice is fine.
    pub fn close(&self) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_close(self.p()) }).map(drop)
    }

    /// Closes at once, dropping what is queued (asyncio `abort`).
    pub fn abort(&self) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_abort(self.p()) }).map(drop)
    }

    /// True once the stream is closing or closed (by close, abort, a
    /// connection failure or the loop's close).
    pub fn is_closing(&self) -> bool {
        // SAFETY: live stream
        unsafe { sys::weft_stream_is_closing(self.p()) == 1 }
    }

    /// Completes once the socket is closed (asyncio `wait_closed`); it does
    /// not close it.
    pub fn wait_closed(&self) -> Op<()> {
        // SAFETY: live stream
        Op::value(nonnull(unsafe { sys::weft_stream_wait_closed(self.p()) }))
    }

    /// The peer's address (asyncio `get_extra_info("peername")`).
    /// `EAFNOSUPPORT` for a Unix socket (see [`Stream::peer_path`]),
    /// `ENOTSUP` for a pipe, `EOBJCLOSED` once closed.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        // SAFETY: live stream; the buffer is ours
        inet_address(read_address(|b, n, port| unsafe { sys::weft_stream_peer_address(self.p(), b, n, port) }))
    }

    /// The stream's own address (asyncio `get_extra_info("sockname")`);
    /// errors as [`Stream::peer_addr`].
    pub fn local_addr(&self) -> Result<SocketAddr> {
        // SAFETY: as above
        inet_address(read_address(|b, n, port| unsafe { sys::weft_stream_local_address(self.p(), b, n, port) }))
    }

    /// The path of the peer of a Unix socket (empty for an unnamed one);
    /// `EAFNOSUPPORT` for TCP.
    pub fn peer_path(&self) -> Result<PathBuf> {
        // SAFETY: as above
        unix_path(read_address(|b, n, port| unsafe { sys::weft_stream_peer_address(self.p(), b, n, port) }))
    }

    /// The path this Unix socket is bound to (empty for a client's).
    pub fn local_path(&self) -> Result<PathBuf> {
        // SAFETY: as above
        unix_path(read_address(|b, n, port| unsafe { sys::weft_stream_local_address(self.p(), b, n, port) }))
    }

    /// Turns TCP_NODELAY on or off (on by default).  `ENOTSUP` if not TCP.
    pub fn set_nodelay(&self, on: bool) -> Result<()> {
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_set_nodelay(self.p(), on as c_int) }).map(drop)
    }

    /// Turns TCP keepalive on, with the first probe after `idle` (at least
    /// one second), or off (`None`).  `ENOTSUP` if not TCP.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> Result<()> {
        let delay = idle.map_or(0, |d| d.as_secs().clamp(1, u32::MAX as u64) as u32);
        // SAFETY: live stream
        check(unsafe { sys::weft_stream_set_keepalive(self.p(), idle.is_some() as c_int, delay) }).map(drop)
    }

    /// What the stream is connected through.
    pub fn kind(&self) -> StreamKind {
        use sys::weft_stream_kind as k;
        // SAFETY: live stream
        match unsafe { sys::weft_stream_kind(self.p()) } as u32 {
            k::WEFT_STREAM_UNIX => StreamKind::Unix,
            k::WEFT_STREAM_PIPE => StreamKind::Pipe,
            _ => StreamKind::Tcp,
        }
    }

    /// The stream's loop.
    pub fn event_loop(&self) -> LoopRef {
        // SAFETY: a live stream has a live loop
        unsafe { LoopRef::from_borrowed(sys::weft_stream_loop(self.p())) }.expect("a stream without a loop")
    }
}

unsafe fn stream_of(raw: *mut sys::weft_future_t) -> Result<Stream> {
    match NonNull::new(sys::weft_stream_from_future(raw)) {
        Some(p) => Ok(Stream { raw: p, _not_send: PhantomData }),
        None => Err(Error::last()),
    }
}

impl Clone for Stream {
    fn clone(&self) -> Stream {
        // SAFETY: any-thread ref
        unsafe { sys::weft_stream_ref(self.p()) };
        Stream { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_stream_unref(self.p()) };
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("raw", &self.raw).field("kind", &self.kind()).finish()
    }
}

// ---- servers ----------------------------------------------------------------

/// A listening server (`weft_server_t`, asyncio `Server`): made by
/// [`Server::bind`] or [`Server::bind_unix`], it accepts connections once
/// [`Server::serve`] (a task per connection) or [`Server::accept`] (one at
/// a time, tokio's `TcpListener`) is called.
///
/// `Clone` adds a reference.  Dropping the last one closes the listening
/// socket; the connections stay open.  The loop's close closes both.
#[derive(Clone)]
pub struct Server {
    inner: Rc<ServerInner>,
}

struct ServerInner {
    raw: NonNull<sys::weft_server_t>,
    accept: RefCell<Option<Rc<AcceptQueue>>>,
}

impl Drop for ServerInner {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_server_unref(self.raw.as_ptr()) };
    }
}

/// Connections accepted and not yet taken by [`Server::accept`], and the
/// accepts waiting for one (each a weft future, so cancelling the task that
/// waits cancels its wait).
#[derive(Default)]
struct AcceptQueue {
    conns: RefCell<VecDeque<Stream>>,
    waiters: RefCell<VecDeque<Future<()>>>,
    closed: Cell<bool>,
}

impl AcceptQueue {
    fn wake_one(&self, err: Option<&Error>) {
        loop {
            let Some(w) = self.waiters.borrow_mut().pop_front() else { return };
            if w.is_done() {
                continue; // its accept was cancelled
            }
            let _ = match err {
                Some(err) => w.set_error(err),
                None => w.set_result(()),
            };
            if err.is_none() {
                return;
            }
        }
    }
}

type ConnFn = Box<dyn Fn(Stream)>;

unsafe extern "C" fn on_connection(_server: *mut sys::weft_server_t, stream: *mut sys::weft_stream_t, ud: *mut c_void) {
    let f = &*(ud as *const ConnFn);
    let s = Stream::from_borrowed(stream);
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(s))) {
        crate::task::report_panic(sys::weft_stream_loop(stream), "a connection handler", &*p, null_mut());
    }
}

unsafe extern "C" fn release_conn_fn(ud: *mut c_void) {
    let f = Box::from_raw(ud as *mut ConnFn);
    if catch_unwind(AssertUnwindSafe(move || drop(f))).is_err() {
        eprintln!("weft: a connection handler panicked while being dropped");
    }
}

unsafe fn server_of(raw: *mut sys::weft_future_t) -> Result<Server> {
    match NonNull::new(sys::weft_server_from_future(raw)) {
        Some(p) => Ok(Server { inner: Rc::new(ServerInner { raw: p, accept: RefCell::new(None) }) }),
        None => Err(Error::last()),
    }
}

impl Server {
    /// Binds and listens on `host` (a name or numeric address; "0.0.0.0"
    /// or "::" for every address) and `port` (0 picks a free one: see
    /// [`Server::local_addr`]), with SO_REUSEADDR (asyncio `start_server`),
    /// on the running loop.  A name listens on its first address.  Fails
    /// with `EADDRINUSE`, `EACCES`, a resolver code, ...
    pub fn bind(host: &str, port: u16) -> Op<Server> {
        let r = c_str(host)
            .and_then(|h| on_loop(|lp| unsafe { sys::weft_server_listen_tcp(lp, h.as_ptr(), port.into(), 0) }));
        Op::new(r, server_of)
    }

    /// Binds and listens on the Unix socket `path` (asyncio
    /// `start_unix_server`): a stale socket file there is removed first,
    /// and the file is removed when the server closes.
    pub fn bind_unix(path: impl AsRef<Path>) -> Op<Server> {
        let r = c_path(path.as_ref())
            .and_then(|p| on_loop(|lp| unsafe { sys::weft_server_listen_unix(lp, p.as_ptr(), 0) }));
        Op::new(r, server_of)
    }

    /// Wraps `raw` (a server made by C, say), adding a reference.
    ///
    /// # Safety
    /// `raw` must be a live weft server of a loop owned by this thread.
    pub unsafe fn from_borrowed(raw: *mut sys::weft_server_t) -> Server {
        let raw = NonNull::new(sys::weft_server_ref(raw)).expect("Server::from_borrowed(NULL)");
        Server { inner: Rc::new(ServerInner { raw, accept: RefCell::new(None) }) }
    }

    fn p(&self) -> *mut sys::weft_server_t {
        self.inner.raw.as_ptr()
    }

    /// The C server (borrowed).
    pub fn as_ptr(&self) -> *mut sys::weft_server_t {
        self.p()
    }

    fn serve_with(&self, f: ConnFn) -> Result<()> {
        let ud = Box::into_raw(Box::new(f)) as *mut c_void;
        // SAFETY: live server; weft calls release_conn_fn once on success
        let rc = unsafe { sys::weft_server_serve(self.p(), Some(on_connection), ud, Some(release_conn_fn)) };
        if rc != 0 {
            // SAFETY: not registered: the box is ours again
            unsafe { drop(Box::from_raw(ud as *mut ConnFn)) };
        }
        check(rc).map(drop)
    }

    /// Starts accepting: each connection is served by a new task running
    /// `handler(stream)` (asyncio's `client_connected_cb`).  Returns at
    /// once.  The stream is closed when the task is done and nobody else
    /// holds it.  A task that fails is reported to the loop's exception
    /// handler (nobody awaits it); a panic in `handler` itself too.
    /// Errors: `ESTATE` if the server is served already (by `serve` or
    /// [`Server::accept`]), `EOBJCLOSED` once closed.
    pub fn serve<H, F>(&self, handler: H) -> Result<()>
    where
        H: Fn(Stream) -> F + 'static,
        F: StdFuture + 'static,
        F::Output: TaskOutput,
    {
        self.serve_with(Box::new(move |s: Stream| {
            // SAFETY: live stream; its loop runs this callback
            let lp = unsafe { sys::weft_stream_loop(s.p()) };
            crate::task::spawn_on(lp, None, handler(s)).detach();
        }))
    }

    fn accept_queue(&self) -> Result<Rc<AcceptQueue>> {
        if let Some(q) = &*self.inner.accept.borrow() {
            return Ok(q.clone());
        }
        let q = Rc::new(AcceptQueue::default());
        let weak = Rc::downgrade(&q);
        self.serve_with(Box::new(move |s: Stream| match weak.upgrade() {
            Some(q) => {
                q.conns.borrow_mut().push_back(s);
                q.wake_one(None);
            }
            None => drop(s),
        }))?;
        // the callback's weak reference: the queue lives with the server
        // wrappers (connections nobody accepted close with the last one)
        *self.inner.accept.borrow_mut() = Some(q.clone());
        Ok(q)
    }

    /// Waits for the next connection (tokio's `accept`).  The first call
    /// starts accepting; from then on connections queue up until taken.
    /// Cancelling the wait loses no connection.  Errors: `EOBJCLOSED` once
    /// the server is closed, `ESTATE` if it is served by [`Server::serve`].
    pub async fn accept(&self) -> Result<Stream> {
        let q = self.accept_queue()?;
        loop {
            if let Some(s) = q.conns.borrow_mut().pop_front() {
                return Ok(s);
            }
            if q.closed.get() || !self.is_serving() {
                return Err(Error::with_message(e::WEFT_EOBJCLOSED, "the server is closed"));
            }
            // SAFETY: live server; its loop is live while it listens
            let lp = unsafe { LoopRef::from_borrowed(sys::weft_loop_running()) };
            let w: Future<()> = match lp {
                Some(lp) => lp.create_future(),
                None => return Err(crate::no_loop()),
            };
            q.waiters.borrow_mut().push_back(w.clone());
            w.await?;
        }
    }

    /// True while the server accepts connections (serving, not closed).
    pub fn is_serving(&self) -> bool {
        // SAFETY: live server
        unsafe { sys::weft_server_is_serving(self.p()) == 1 }
    }

    /// Stops accepting and closes the listening socket (asyncio `close`);
    /// accepted connections stay open.  Pending [`Server::accept`]s fail
    /// with `EOBJCLOSED`.  Closing twice is fine.
    pub fn close(&self) -> Result<()> {
        // SAFETY: live server
        check(unsafe { sys::weft_server_close(self.p()) })?;
        if let Some(q) = &*self.inner.accept.borrow() {
            q.closed.set(true);
            q.wake_one(Some(&Error::with_message(e::WEFT_EOBJCLOSED, "the server is closed")));
        }
        Ok(())
    }

    /// Closes every accepted connection that is still open (asyncio 3.13
    /// `close_clients`); returns how many it closed.
    pub fn close_clients(&self) -> Result<usize> {
        // SAFETY: live server
        check(unsafe { sys::weft_server_close_clients(self.p()) }).map(|n| n as usize)
    }

    /// Completes once the server is closed and every connection it accepted
    /// is closed too (asyncio `wait_closed`).
    pub fn wait_closed(&self) -> Op<()> {
        // SAFETY: live server
        Op::value(nonnull(unsafe { sys::weft_server_wait_closed(self.p()) }))
    }

    /// The address it listens on (the port picked for port 0).
    /// `EAFNOSUPPORT` for a Unix server (see [`Server::local_path`]).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        // SAFETY: live server; the buffer is ours
        inet_address(read_address(|b, n, port| unsafe { sys::weft_server_address(self.p(), b, n, port) }))
    }

    /// The path a Unix server listens on.
    pub fn local_path(&self) -> Result<PathBuf> {
        // SAFETY: as above
        unix_path(read_address(|b, n, port| unsafe { sys::weft_server_address(self.p(), b, n, port) }))
    }

    /// How many sockets it listens on (asyncio `len(Server.sockets)`): one
    /// per address a host name resolved to, 1 for a numeric address or a
    /// Unix path, 0 once closed.
    pub fn socket_count(&self) -> Result<usize> {
        // SAFETY: live server
        check(unsafe { sys::weft_server_socket_count(self.p()) }).map(|n| n as usize)
    }

    /// Every address it listens on, in the resolver's order (e.g. both
    /// 127.0.0.1 and ::1 for "localhost"); empty once closed.
    /// `EAFNOSUPPORT` for a Unix server (see [`Server::local_path`]).
    pub fn local_addrs(&self) -> Result<Vec<SocketAddr>> {
        (0..self.socket_count()?)
            .map(|i| {
                // SAFETY: live server; the buffer is ours
                inet_address(read_address(|b, n, port| unsafe {
                    sys::weft_server_socket_address(self.p(), i, b, n, port)
                }))
            })
            .collect()
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("raw", &self.inner.raw).field("serving", &self.is_serving()).finish()
    }
}
