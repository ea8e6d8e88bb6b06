//! UDP sockets (`weft/udp.h`), re-exported from [`crate::net`].
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::raw::{c_int, c_void};
use std::ptr::{null, NonNull};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::dns::Family;
use crate::error::{check, Error, Result};
use crate::event_loop::nonnull;
use crate::io::{ip_text, owned_str, parse_addr, running_loop, Op};

mod sealed {
    pub trait Sealed {}
}

/// A numeric socket address: a [`SocketAddr`], an `(IpAddr, u16)` pair
/// (or with `Ipv4Addr` / `Ipv6Addr`), or text such as `"127.0.0.1:9000"`
/// and `"[::1]:9000"` (no name lookup: see [`crate::dns`]).
pub trait ToSocketAddr: sealed::Sealed {
    /// The address, or `EINVAL` for text that is not one.
    fn to_socket_addr(&self) -> Result<SocketAddr>;
}

impl sealed::Sealed for SocketAddr {}
impl ToSocketAddr for SocketAddr {
    fn to_socket_addr(&self) -> Result<SocketAddr> {
        Ok(*self)
    }
}
macro_rules! pair_addr {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for ($t, u16) {}
        impl ToSocketAddr for ($t, u16) {
            fn to_socket_addr(&self) -> Result<SocketAddr> {
                Ok(SocketAddr::from((self.0, self.1)))
            }
        }
    )*};
}
pair_addr!(IpAddr, Ipv4Addr, Ipv6Addr);
impl sealed::Sealed for str {}
impl ToSocketAddr for str {
    fn to_socket_addr(&self) -> Result<SocketAddr> {
        self.parse().map_err(|_| Error::with_message(e::WEFT_EINVAL, &format!("not a numeric socket address: {self}")))
    }
}
impl sealed::Sealed for String {}
impl ToSocketAddr for String {
    fn to_socket_addr(&self) -> Result<SocketAddr> {
        self.as_str().to_socket_addr()
    }
}
impl<A: ToSocketAddr + ?Sized> sealed::Sealed for &A {}
impl<A: ToSocketAddr + ?Sized> ToSocketAddr for &A {
    fn to_socket_addr(&self) -> Result<SocketAddr> {
        (**self).to_socket_addr()
    }
}

/// Options of [`UdpSocket::bind_with`] (`enum weft_udp_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpFlags {
    /// SO_REUSEADDR: several sockets may bind the address.
    pub reuse_addr: bool,
    /// An IPv6 socket that does not also take IPv4.
    pub ipv6_only: bool,
}

/// A UDP socket (`weft_udp_t`) with awaitable sends and receives (asyncio's
/// datagram endpoint, tokio's `UdpSocket`).  An open socket receives all
/// the time: each datagram goes to the oldest pending [`UdpSocket::recv`],
/// or waits in a queue (256 datagrams unless
/// [`UdpSocket::set_queue_limit`] says otherwise; what overflows it is
/// dropped and counted).
///
/// `Clone` adds a reference.  Dropping the last one, [`UdpSocket::close`]
/// or the loop's close stop the socket at once: pending receives fail with
/// `EOBJCLOSED`.
///
/// ```
/// use weft::net::UdpSocket;
///
/// let got = weft::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let d = b.recv().await?;
///     assert_eq!(d.addr(), a.local_addr()?);
///     Ok::<_, weft::Error>(d.data().to_vec())
/// });
/// assert_eq!(got.unwrap().unwrap(), b"ping");
/// ```
pub struct UdpSocket {
    raw: NonNull<sys::weft_udp_t>,
    _not_send: PhantomData<*const ()>,
}

impl UdpSocket {
    /// Opens a socket bound to `addr` (port 0: a free one, see
    /// [`UdpSocket::local_addr`]) on the running loop and starts receiving.
    /// Errors: `EINVAL` (not a numeric address), `EADDRINUSE`,
    /// `EADDRNOTAVAIL`, `EACCES`, `ESTATE` outside a running loop.
    pub fn bind(addr: impl ToSocketAddr) -> Result<UdpSocket> {
        UdpSocket::bind_with(addr, UdpFlags::default())
    }

    /// As [`UdpSocket::bind`], with options.
    pub fn bind_with(addr: impl ToSocketAddr, flags: UdpFlags) -> Result<UdpSocket> {
        use sys::weft_udp_flags as f;
        let addr = addr.to_socket_addr()?;
        let host = ip_text(&addr);
        let mut bits = 0;
        if flags.reuse_addr {
            bits |= f::WEFT_UDP_REUSEADDR;
        }
        if flags.ipv6_only {
            bits |= f::WEFT_UDP_IPV6ONLY;
        }
        let lp = running_loop()?;
        // SAFETY: live loop; strings copied
        let p = unsafe { sys::weft_udp_open(lp, host.as_ptr(), addr.port().into(), bits) };
        match NonNull::new(p) {
            Some(raw) => Ok(UdpSocket { raw, _not_send: PhantomData }),
            None => Err(Error::last()),
        }
    }

    fn p(&self) -> *mut sys::weft_udp_t {
        self.raw.as_ptr()
    }

    /// Sends one datagram to `addr` (`data` is copied).  The future
    /// completes with the length once the kernel took it, or fails
    /// (`EMSGSIZE`, `ENETUNREACH`, `EOBJCLOSED`, ...).  Cancelling it does
    /// not take back a queued datagram.  `EISCONN` on a connected socket.
    pub fn send_to(&self, data: &[u8], addr: impl ToSocketAddr) -> Op<usize> {
        let r = addr.to_socket_addr().and_then(|a| {
            let host = ip_text(&a);
            // SAFETY: live socket; data and host copied
            nonnull(unsafe {
                sys::weft_udp_send(self.p(), data.as_ptr() as *const c_void, data.len(), host.as_ptr(), a.port().into())
            })
        });
        Op::value(r)
    }

    /// Sends one datagram to the connected peer ([`UdpSocket::connect`]);
    /// `EDESTADDRREQ` if not connected.
    pub fn send(&self, data: &[u8]) -> Op<usize> {
        // SAFETY: live socket; data copied
        Op::value(nonnull(unsafe {
            sys::weft_udp_send(self.p(), data.as_ptr() as *const c_void, data.len(), null(), 0)
        }))
    }

    /// Receives one datagram (from anyone, or from the peer once
    /// connected).  Cancelling the wait loses no datagram.  Fails with a
    /// receive error (`ECONNREFUSED` on a connected socket whose peer has
    /// no listener) or `EOBJCLOSED`.
    pub fn recv(&self) -> Op<Datagram> {
        // SAFETY: live socket
        Op::new(nonnull(unsafe { sys::weft_udp_recv(self.p()) }), datagram_of)
    }

    /// Connects to `addr`: sends then go there without an address, and
    /// only its datagrams are received.  `EISCONN` if connected already.
    pub fn connect(&self, addr: impl ToSocketAddr) -> Result<()> {
        let a = addr.to_socket_addr()?;
        let host = ip_text(&a);
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_connect(self.p(), host.as_ptr(), a.port().into()) }).map(drop)
    }

    /// Undoes [`UdpSocket::connect`]; `ENOTCONN` if not connected.  Linux
    /// unbinds a socket that was bound to port 0: its next send binds a new
    /// port, which [`UdpSocket::local_addr`] does not show (weft keeps the
    /// address it bound).
    pub fn disconnect(&self) -> Result<()> {
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_connect(self.p(), null(), 0) }).map(drop)
    }

    /// The address the socket is bound to (the port picked for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        // SAFETY: live socket; the text is copied at once
        let text = unsafe { owned_str(sys::weft_udp_local_address(self.p())) }.ok_or_else(Error::last)?;
        let port = check(unsafe { sys::weft_udp_local_port(self.p()) })?;
        parse_addr(&text, port)
    }

    /// The connected peer's address; `ENOTCONN` if not connected.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        // SAFETY: live socket; the text is copied at once
        let port = check(unsafe { sys::weft_udp_peer_port(self.p()) })?;
        let text = unsafe { owned_str(sys::weft_udp_peer_address(self.p())) }
            .ok_or_else(|| Error::from_code(e::WEFT_ENOTCONN))?;
        parse_addr(&text, port)
    }

    /// The socket's family ([`Family::Inet`] or [`Family::Inet6`]).
    pub fn family(&self) -> Result<Family> {
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_family(self.p()) }).map(Family::from_c)
    }

    /// Allows or forbids sending to broadcast addresses (SO_BROADCAST).
    pub fn set_broadcast(&self, on: bool) -> Result<()> {
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_set_broadcast(self.p(), on as c_int) }).map(drop)
    }

    /// Sets the time to live (IPv4) or hop limit (IPv6), 1 to 255.
    pub fn set_ttl(&self, ttl: u32) -> Result<()> {
        let ttl = c_int::try_from(ttl).unwrap_or(c_int::MAX);
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_set_ttl(self.p(), ttl) }).map(drop)
    }

    /// Sets how many datagrams may wait for a receive (0: none; at most
    /// 1048576).  Applies to datagrams that arrive later.
    pub fn set_queue_limit(&self, limit: usize) -> Result<()> {
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_set_queue_limit(self.p(), limit) }).map(drop)
    }

    /// How many datagrams are queued now.
    pub fn queued(&self) -> usize {
        // SAFETY: live socket
        unsafe { sys::weft_udp_queued(self.p()) }.max(0) as usize
    }

    /// How many datagrams were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        // SAFETY: live socket
        unsafe { sys::weft_udp_dropped(self.p()) }.max(0) as u64
    }

    /// Closes the socket now (pending receives fail with `EOBJCLOSED`).
    /// `EOBJCLOSED` if closed before.
    pub fn close(&self) -> Result<()> {
        // SAFETY: live socket
        check(unsafe { sys::weft_udp_close(self.p()) }).map(drop)
    }
}

impl Clone for UdpSocket {
    fn clone(&self) -> UdpSocket {
        // SAFETY: any-thread ref
        unsafe { sys::weft_udp_ref(self.p()) };
        UdpSocket { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_udp_unref(self.p()) };
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("raw", &self.raw).field("local", &self.local_addr().ok()).finish()
    }
}

/// A received datagram (`weft_datagram_t`): its bytes, read in place, and
/// the sender's address.  Immutable and loop-free: `Send + Sync`.
pub struct Datagram {
    raw: NonNull<sys::weft_datagram_t>,
}

// SAFETY: a datagram is immutable; its accessors, ref and unref are any-thread.
unsafe impl Send for Datagram {}
unsafe impl Sync for Datagram {}

unsafe fn datagram_of(raw: *mut sys::weft_future_t) -> Result<Datagram> {
    let mut p: *mut c_void = std::ptr::null_mut();
    let rc = sys::weft_future_result_ptr(raw, &mut p);
    if rc != 0 {
        return Err(Error::of_future(raw, rc));
    }
    // SAFETY: the recv future's pointer is a datagram it owns; we add ours
    match NonNull::new(sys::weft_datagram_ref(p as *mut sys::weft_datagram_t)) {
        Some(raw) => Ok(Datagram { raw }),
        None => Err(Error::from_code(e::WEFT_EINVAL)),
    }
}

impl Datagram {
    /// The bytes (borrowed from the datagram: no copy).
    pub fn data(&self) -> &[u8] {
        let mut data: *const c_void = null();
        let mut len = 0usize;
        // SAFETY: live datagram; data is never NULL and lives with it
        unsafe {
            if sys::weft_datagram_data(self.raw.as_ptr(), &mut data, &mut len) != 0 || data.is_null() {
                return &[];
            }
            std::slice::from_raw_parts(data as *const u8, len)
        }
    }

    /// The sender's address.
    pub fn addr(&self) -> SocketAddr {
        // SAFETY: live datagram; the text is copied at once
        let text = unsafe { owned_str(sys::weft_datagram_address(self.raw.as_ptr())) }.unwrap_or_default();
        let port = unsafe { sys::weft_datagram_port(self.raw.as_ptr()) };
        parse_addr(&text, port).unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The sender's family.
    pub fn family(&self) -> Family {
        // SAFETY: live datagram
        Family::from_c(unsafe { sys::weft_datagram_family(self.raw.as_ptr()) })
    }
}

impl Clone for Datagram {
    fn clone(&self) -> Datagram {
        // SAFETY: any-thread ref
        unsafe { sys::weft_datagram_ref(self.raw.as_ptr()) };
        Datagram { raw: self.raw }
    }
}

impl Drop for Datagram {
    fn drop(&mut self) {
        // SAFETY: our reference; any thread
        unsafe { sys::weft_datagram_unref(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datagram").field("addr", &self.addr()).field("len", &self.data().len()).finish()
    }
}
