//! Name resolution on libuv's thread pool (`weft/dns.h`, asyncio
//! `loop.getaddrinfo` / `loop.getnameinfo`), giving `std::net` types.
//!
//! Each call returns an [`Op`] made on the running loop.  Dropping or
//! cancelling it abandons the lookup (one the pool has not started never
//! runs).  Failures carry the resolver's code (`EAI_NONAME`, `EAI_AGAIN`,
//! ...).
//!
//! ```
//! use weft::dns;
//!
//! let addrs = weft::run(async { dns::lookup_host("127.0.0.1", 80).await }).unwrap().unwrap();
//! assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
//! ```
use std::net::SocketAddr;
use std::ops::{BitOr, BitOrAssign};
use std::os::raw::{c_int, c_void};
use std::ptr::null;

use weft_sys as sys;

use crate::error::{Error, Result};
use crate::io::{c_str, ip_text, on_loop, owned_str, parse_addr, Op};

/// An address family (`enum weft_family`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Family {
    /// Any family (hints only).
    #[default]
    Any,
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    pub(crate) fn from_c(v: c_int) -> Family {
        match v as u32 {
            sys::weft_family::WEFT_AF_INET => Family::Inet,
            sys::weft_family::WEFT_AF_INET6 => Family::Inet6,
            _ => Family::Any,
        }
    }

    fn to_c(self) -> c_int {
        (match self {
            Family::Any => sys::weft_family::WEFT_AF_UNSPEC,
            Family::Inet => sys::weft_family::WEFT_AF_INET,
            Family::Inet6 => sys::weft_family::WEFT_AF_INET6,
        }) as c_int
    }
}

/// A socket type (`enum weft_socktype`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum SockType {
    /// Any type (hints only), or one weft has no name for.
    #[default]
    Any,
    /// A stream socket (TCP).
    Stream,
    /// A datagram socket (UDP).
    Datagram,
    /// A raw socket.
    Raw,
}

impl SockType {
    fn from_c(v: c_int) -> SockType {
        use sys::weft_socktype as s;
        match v as u32 {
            s::WEFT_SOCK_STREAM => SockType::Stream,
            s::WEFT_SOCK_DGRAM => SockType::Datagram,
            s::WEFT_SOCK_RAW => SockType::Raw,
            _ => SockType::Any,
        }
    }

    fn to_c(self) -> c_int {
        use sys::weft_socktype as s;
        (match self {
            SockType::Any => s::WEFT_SOCK_ANY,
            SockType::Stream => s::WEFT_SOCK_STREAM,
            SockType::Datagram => s::WEFT_SOCK_DGRAM,
            SockType::Raw => s::WEFT_SOCK_RAW,
        }) as c_int
    }
}

/// Flags of [`getaddrinfo`] (`enum weft_ai_flags`), combined with `|`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct AiFlags(pub u32);

impl AiFlags {
    /// No host gives the wildcard address (for binding).
    pub const PASSIVE: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_PASSIVE);
    /// Ask for the canonical name ([`AddrInfo::canonical_name`]).
    pub const CANONNAME: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_CANONNAME);
    /// The host must be a numeric address: no lookup.
    pub const NUMERICHOST: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_NUMERICHOST);
    /// The service must be a port number.
    pub const NUMERICSERV: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_NUMERICSERV);
    /// IPv4 addresses as `::ffff:a.b.c.d` for [`Family::Inet6`].
    pub const V4MAPPED: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_V4MAPPED);
    /// With `V4MAPPED`: IPv6 and mapped IPv4 addresses.
    pub const ALL: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_ALL);
    /// Only families configured on this host.
    pub const ADDRCONFIG: AiFlags = AiFlags(sys::weft_ai_flags::WEFT_AI_ADDRCONFIG);
}

/// Flags of [`getnameinfo`] (`enum weft_ni_flags`), combined with `|`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NiFlags(pub u32);

impl NiFlags {
    /// The address as text, no reverse lookup.
    pub const NUMERICHOST: NiFlags = NiFlags(sys::weft_ni_flags::WEFT_NI_NUMERICHOST);
    /// The port as a number, no service name.
    pub const NUMERICSERV: NiFlags = NiFlags(sys::weft_ni_flags::WEFT_NI_NUMERICSERV);
    /// Fail (`EAI_NONAME`) if the name is unknown.
    pub const NAMEREQD: NiFlags = NiFlags(sys::weft_ni_flags::WEFT_NI_NAMEREQD);
    /// The service is a UDP one.
    pub const DGRAM: NiFlags = NiFlags(sys::weft_ni_flags::WEFT_NI_DGRAM);
    /// Only the host part of local names.
    pub const NOFQDN: NiFlags = NiFlags(sys::weft_ni_flags::WEFT_NI_NOFQDN);
}

macro_rules! flag_ops {
    ($($t:ident),*) => {$(
        impl BitOr for $t {
            type Output = $t;
            fn bitor(self, o: $t) -> $t {
                $t(self.0 | o.0)
            }
        }
        impl BitOrAssign for $t {
            fn bitor_assign(&mut self, o: $t) {
                self.0 |= o.0;
            }
        }
    )*};
}
flag_ops!(AiFlags, NiFlags);

/// What narrows a [`getaddrinfo`] lookup (all `Any` / empty by default).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Hints {
    /// The family wanted.
    pub family: Family,
    /// The socket type wanted (each address comes once per type otherwise).
    pub socktype: SockType,
    /// Flags.
    pub flags: AiFlags,
}

/// One entry of a [`getaddrinfo`] answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AddrEntry {
    /// The address and port.
    pub addr: SocketAddr,
    /// The socket type it is for.
    pub socktype: SockType,
    /// The protocol number (6 for TCP, 17 for UDP, 0 if none was given).
    pub protocol: i32,
}

/// The answer of [`getaddrinfo`]: at least one entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AddrInfo {
    /// The entries, in the resolver's order.
    pub entries: Vec<AddrEntry>,
    /// The host's canonical name, when [`AiFlags::CANONNAME`] asked for it
    /// and the resolver gave one.
    pub canonical_name: Option<String>,
}

impl AddrInfo {
    /// The addresses alone, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.entries.iter().map(|e| e.addr).collect()
    }
}

unsafe fn addrinfo_of(raw: *mut sys::weft_future_t) -> Result<AddrInfo> {
    let mut p: *mut c_void = std::ptr::null_mut();
    let rc = sys::weft_future_result_ptr(raw, &mut p);
    if rc != 0 {
        return Err(Error::of_future(raw, rc));
    }
    // borrowed from the future, which we hold: everything is copied out
    let list = p as *const sys::weft_addrinfo_t;
    let n = sys::weft_addrinfo_count(list).max(0) as usize;
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        let Some(text) = owned_str(sys::weft_addrinfo_address(list, i)) else { continue };
        let addr = parse_addr(&text, sys::weft_addrinfo_port(list, i))?;
        entries.push(AddrEntry {
            addr,
            socktype: SockType::from_c(sys::weft_addrinfo_socktype(list, i)),
            protocol: sys::weft_addrinfo_protocol(list, i),
        });
    }
    Ok(AddrInfo { entries, canonical_name: owned_str(sys::weft_addrinfo_canonname(list)) })
}

/// Resolves `host` and/or `service` (a port number or a name such as
/// `"http"`; not both `None`) with `hints` (asyncio `loop.getaddrinfo`,
/// `weft_dns_getaddrinfo`).  `EINVAL` at once for both `None`.
///
/// ```
/// use weft::dns::{getaddrinfo, AiFlags, Hints, SockType};
///
/// let hints = Hints { socktype: SockType::Stream, flags: AiFlags::NUMERICHOST, ..Hints::default() };
/// let info = weft::run(async { getaddrinfo(Some("::1"), Some("8080"), hints).await }).unwrap().unwrap();
/// assert_eq!(info.addrs(), vec!["[::1]:8080".parse().unwrap()]);
/// assert_eq!(info.entries[0].socktype, SockType::Stream);
/// ```
pub fn getaddrinfo(host: Option<&str>, service: Option<&str>, hints: Hints) -> Op<AddrInfo> {
    let r = (|| {
        let h = host.map(c_str).transpose()?;
        let s = service.map(c_str).transpose()?;
        on_loop(|lp| unsafe {
            sys::weft_dns_getaddrinfo(
                lp,
                h.as_ref().map_or(null(), |h| h.as_ptr()),
                s.as_ref().map_or(null(), |s| s.as_ptr()),
                hints.family.to_c(),
                hints.socktype.to_c(),
                hints.flags.0,
            )
        })
    })();
    Op::new(r, addrinfo_of)
}

unsafe fn addrs_of(raw: *mut sys::weft_future_t) -> Result<Vec<SocketAddr>> {
    addrinfo_of(raw).map(|i| i.addrs())
}

/// The addresses of `host` with `port` (tokio's `lookup_host`): a
/// [`getaddrinfo`] for stream sockets, one entry per address.
pub fn lookup_host(host: &str, port: u16) -> Op<Vec<SocketAddr>> {
    let port = port.to_string();
    let hints = Hints { socktype: SockType::Stream, flags: AiFlags::NUMERICSERV, ..Hints::default() };
    let r = c_str(host).and_then(|h| {
        let s = c_str(&port)?;
        on_loop(|lp| unsafe {
            sys::weft_dns_getaddrinfo(
                lp,
                h.as_ptr(),
                s.as_ptr(),
                hints.family.to_c(),
                hints.socktype.to_c(),
                hints.flags.0,
            )
        })
    });
    Op::new(r, addrs_of)
}

unsafe fn nameinfo_of(raw: *mut sys::weft_future_t) -> Result<(String, String)> {
    let mut p: *mut c_void = std::ptr::null_mut();
    let rc = sys::weft_future_result_ptr(raw, &mut p);
    if rc != 0 {
        return Err(Error::of_future(raw, rc));
    }
    // borrowed from the future, which we hold: copied out
    let names = p as *const sys::weft_nameinfo_t;
    Ok((
        owned_str(sys::weft_nameinfo_host(names)).unwrap_or_default(),
        owned_str(sys::weft_nameinfo_service(names)).unwrap_or_default(),
    ))
}

/// The host and service names of `addr` (asyncio `loop.getnameinfo`,
/// `weft_dns_getnameinfo`): `(host, service)`.
///
/// ```
/// use weft::dns::{getnameinfo, NiFlags};
///
/// let flags = NiFlags::NUMERICHOST | NiFlags::NUMERICSERV;
/// let names = weft::run(async { getnameinfo("127.0.0.1:22".parse().unwrap(), flags).await });
/// assert_eq!(names.unwrap().unwrap(), ("127.0.0.1".to_string(), "22".to_string()));
/// ```
pub fn getnameinfo(addr: SocketAddr, flags: NiFlags) -> Op<(String, String)> {
    let host = ip_text(&addr);
    let r = on_loop(|lp| unsafe { sys::weft_dns_getnameinfo(lp, host.as_ptr(), addr.port().into(), flags.0) });
    Op::new(r, nameinfo_of)
}
