//! UDP sockets: send and receive, connected mode, queue limits, closing,
//! cancelled receives, addresses.
mod io_util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use io_util::run;
use weft::dns::Family;
use weft::net::{Datagram, ToSocketAddr, UdpFlags, UdpSocket};
use weft::Code;

const EOBJCLOSED: Code = Code(weft::sys::weft_errno::WEFT_EOBJCLOSED);
const EISCONN: Code = Code(weft::sys::weft_errno::WEFT_EISCONN);
const ENOTCONN: Code = Code(weft::sys::weft_errno::WEFT_ENOTCONN);
const EDESTADDRREQ: Code = Code(weft::sys::weft_errno::WEFT_EDESTADDRREQ);

#[test]
fn send_and_receive_v4_and_v6() {
    run(async {
        for host in ["127.0.0.1", "::1"] {
            let any: SocketAddr = SocketAddr::new(host.parse().unwrap(), 0);
            let a = match UdpSocket::bind(any) {
                Ok(a) => a,
                Err(err) if host == "::1" => {
                    eprintln!("no IPv6 loopback here ({err}): skipped");
                    continue;
                }
                Err(err) => panic!("{err}"),
            };
            let b = UdpSocket::bind((any.ip(), 0)).unwrap();
            let family = if host == "::1" { Family::Inet6 } else { Family::Inet };
            assert_eq!(a.family().unwrap(), family);
            let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            assert_eq!(aa.ip(), any.ip());
            assert_ne!(aa.port(), 0);
            assert_eq!(a.send_to(b"one", ba).await.unwrap(), 3);
            assert_eq!(a.send_to(b"", ba).await.unwrap(), 0);
            let d: Datagram = b.recv().await.unwrap();
            assert_eq!((d.data(), d.addr(), d.family()), (&b"one"[..], aa, family));
            let empty = b.recv().await.unwrap();
            assert!(empty.data().is_empty());
            // a datagram outlives its socket and travels to other threads
            let copy = d.clone();
            drop((a, b));
            let t = std::thread::spawn(move || copy.data().to_vec());
            assert_eq!(t.join().unwrap(), b"one");
            assert!(format!("{d:?}").contains("Datagram"));
        }
    });
}

#[test]
fn connected_mode() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0".to_string()).unwrap();
        let c = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        assert_eq!(a.peer_addr().unwrap_err().code(), ENOTCONN);
        assert_eq!(a.send(b"x").await.unwrap_err().code(), EDESTADDRREQ);
        a.connect(b.local_addr().unwrap()).unwrap();
        assert_eq!(a.connect(b.local_addr().unwrap()).unwrap_err().code(), EISCONN);
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.send_to(b"x", c.local_addr().unwrap()).await.unwrap_err().code(), EISCONN);
        // only the peer's datagrams arrive
        c.send_to(b"from c", a.local_addr().unwrap()).await.unwrap();
        b.send_to(b"from b", a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.recv().await.unwrap().data(), b"from b");
        a.send(b"hi b").await.unwrap();
        assert_eq!(b.recv().await.unwrap().data(), b"hi b");
        a.disconnect().unwrap();
        assert_eq!(a.disconnect().unwrap_err().code(), ENOTCONN);
        assert_eq!(a.peer_addr().unwrap_err().code(), ENOTCONN);
        // Linux unbinds a port-0 socket on disconnect: its next send binds
        // it again, so ask c to answer whatever address that was
        a.send_to(b"to c", c.local_addr().unwrap()).await.unwrap();
        let d = c.recv().await.unwrap();
        assert_eq!(d.data(), b"to c");
        c.send_to(b"again", d.addr()).await.unwrap();
        assert_eq!(a.recv().await.unwrap().data(), b"again");
    });
}

#[test]
fn queue_limit_drops_and_options() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind_with("127.0.0.1:0", UdpFlags { reuse_addr: true, ..UdpFlags::default() }).unwrap();
        b.set_queue_limit(2).unwrap();
        assert_eq!(b.set_queue_limit(2_000_000).unwrap_err().code(), Code::INVALID);
        a.set_broadcast(true).unwrap();
        a.set_ttl(8).unwrap();
        assert_eq!(a.set_ttl(0).unwrap_err().code(), Code::INVALID);
        let to = b.local_addr().unwrap();
        for i in 0..5u8 {
            a.send_to(&[i], to).await.unwrap();
        }
        // the sends are handed to the kernel; let them arrive
        for _ in 0..10_000 {
            if b.queued() + b.dropped() as usize >= 5 {
                break;
            }
            weft::sleep(0.001).await.unwrap();
        }
        assert_eq!((b.queued(), b.dropped()), (2, 3));
        assert_eq!(b.recv().await.unwrap().data(), [0]);
        assert_eq!(b.recv().await.unwrap().data(), [1]);
        assert_eq!(b.queued(), 0);
        assert!(format!("{b:?}").contains("UdpSocket"));
    });
}

#[test]
fn cancelled_receive_loses_nothing_and_close_fails_pending() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        // a receive that times out, one dropped, one cancelled
        assert!(weft::wait_for(b.recv(), 0.01).await.unwrap_err().is_timeout());
        drop(b.recv());
        let c = b.recv();
        assert!(c.cancel());
        assert!(c.await.unwrap_err().is_cancelled());
        a.send_to(b"kept", b.local_addr().unwrap()).await.unwrap();
        assert_eq!(b.recv().await.unwrap().data(), b"kept");
        // a task cancelled while receiving
        let b2 = b.clone();
        let t = weft::spawn(async move { b2.recv().await.map(|d| d.data().to_vec()) });
        weft::sleep(0.001).await.unwrap();
        t.cancel();
        assert!(t.await.unwrap_err().is_cancelled());
        // close fails what waits, and everything after
        let pending = b.recv();
        b.close().unwrap();
        assert_eq!(pending.await.unwrap_err().code(), EOBJCLOSED);
        assert_eq!(b.close().unwrap_err().code(), EOBJCLOSED);
        assert_eq!(b.recv().await.unwrap_err().code(), EOBJCLOSED);
        assert_eq!(b.send_to(b"x", a.local_addr().unwrap()).await.unwrap_err().code(), EOBJCLOSED);
    });
}

#[test]
fn bad_addresses_and_no_loop() {
    run(async {
        assert_eq!(UdpSocket::bind("localhost:0").unwrap_err().code(), Code::INVALID);
        assert_eq!(UdpSocket::bind("1.2.3.4").unwrap_err().code(), Code::INVALID);
        assert_eq!("[::1]:5".to_socket_addr().unwrap(), SocketAddr::from((Ipv6Addr::LOCALHOST, 5)));
        assert_eq!("::1".to_socket_addr().unwrap_err().code(), Code::INVALID);
        let a = UdpSocket::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).unwrap();
        assert_eq!(a.send_to(b"x", "nowhere").await.unwrap_err().code(), Code::INVALID);
        if let Ok(v6) = UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)) {
            // an IPv4 destination from an IPv6-only loopback socket fails
            assert!(v6.send_to(b"x", a.local_addr().unwrap()).await.is_err());
        }
    });
    let _g = io_util::serial();
    assert_eq!(UdpSocket::bind("127.0.0.1:0").unwrap_err().code(), Code::STATE);
}
