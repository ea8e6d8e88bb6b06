//! Name resolution: getaddrinfo with hints and flags, lookup_host,
//! getnameinfo, failures, cancelled lookups.
mod io_util;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use io_util::run;
use weft::dns::{self, AddrEntry, AddrInfo, AiFlags, Family, Hints, NiFlags, SockType};
use weft::Code;

#[test]
fn numeric_lookups() {
    run(async {
        let hints = Hints { family: Family::Inet, socktype: SockType::Datagram, flags: AiFlags::NUMERICHOST };
        let info: AddrInfo = dns::getaddrinfo(Some("127.0.0.1"), Some("53"), hints).await.unwrap();
        let e: AddrEntry = info.entries[0];
        assert_eq!(e.addr, SocketAddr::from(([127, 0, 0, 1], 53)));
        assert_eq!(e.socktype, SockType::Datagram);
        assert_eq!(e.protocol, 17);
        assert_eq!(info.canonical_name, None);
        // every socket type: one entry per type, same address
        let all = dns::getaddrinfo(Some("127.0.0.1"), None, Hints::default()).await.unwrap();
        assert!(all.addrs().iter().all(|a| *a == SocketAddr::from(([127, 0, 0, 1], 0))));
        assert!(all.entries.iter().any(|e| e.socktype == SockType::Stream));
        assert!(all.entries.iter().all(|e| e.socktype != SockType::Any || e.protocol >= 0));
        // a passive lookup with no host gives the wildcard
        let mut flags = AiFlags::PASSIVE;
        flags |= AiFlags::NUMERICSERV;
        let wild = Hints { family: Family::Inet, socktype: SockType::Stream, flags };
        let w = dns::getaddrinfo(None, Some("8080"), wild).await.unwrap();
        assert_eq!(w.addrs(), vec![SocketAddr::from(([0, 0, 0, 0], 8080))]);
        let v6 = Hints { family: Family::Inet6, flags: AiFlags::V4MAPPED | AiFlags::ALL, ..Hints::default() };
        if let Ok(m) = dns::getaddrinfo(Some("127.0.0.1"), Some("1"), v6).await {
            assert!(m.addrs().iter().all(|a| a.is_ipv6()));
        }
        let _ = (AiFlags::CANONNAME, AiFlags::ADDRCONFIG, SockType::Raw);
    });
}

#[test]
fn names_and_reverse() {
    run(async {
        let local = dns::lookup_host("localhost", 7).await.unwrap();
        assert!(!local.is_empty());
        assert!(local.iter().all(|a| a.ip().is_loopback() && a.port() == 7), "{local:?}");
        let canon = Hints { flags: AiFlags::CANONNAME, socktype: SockType::Stream, ..Hints::default() };
        let c = dns::getaddrinfo(Some("localhost"), None, canon).await.unwrap();
        assert!(c.canonical_name.is_some());
        let (host, service) =
            dns::getnameinfo(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 80), NiFlags::NUMERICSERV).await.unwrap();
        assert!(!host.is_empty());
        assert_eq!(service, "80");
        let flags = NiFlags::NUMERICHOST | NiFlags::NUMERICSERV | NiFlags::DGRAM | NiFlags::NOFQDN;
        let (h6, s6) = dns::getnameinfo("[::1]:53".parse().unwrap(), flags).await.unwrap();
        assert_eq!((h6.as_str(), s6.as_str()), ("::1", "53"));
        let _ = NiFlags::NAMEREQD;
    });
}

#[test]
fn failures_and_cancellation() {
    run(async {
        let e = dns::lookup_host("no-such-host.invalid", 80).await.unwrap_err();
        assert!(weft::Code::name(e.code()).starts_with("EAI_"), "{e}");
        let numeric = Hints { flags: AiFlags::NUMERICHOST, ..Hints::default() };
        assert!(dns::getaddrinfo(Some("not numeric"), None, numeric).await.is_err());
        assert_eq!(dns::getaddrinfo(None, None, Hints::default()).await.unwrap_err().code(), Code::INVALID);
        assert_eq!(dns::lookup_host("bad\0name", 1).await.unwrap_err().code(), Code::INVALID);
        // abandoned lookups: cancelled, dropped, timed out
        let op = dns::lookup_host("localhost", 1);
        op.cancel();
        assert!(op.await.unwrap_err().is_cancelled());
        drop(dns::getaddrinfo(Some("localhost"), None, Hints::default()));
        let r = weft::wait_for(dns::lookup_host("localhost", 2), 30.0).await;
        assert!(r.is_ok());
    });
    let _g = io_util::serial();
    let lp = weft::Loop::new().unwrap();
    let made_outside = dns::lookup_host("localhost", 1);
    assert_eq!(lp.block_on(made_outside).unwrap().unwrap_err().code(), Code::STATE);
}
