//! TCP and Unix streams and servers: reads, writes, back-pressure, half
//! close, errors, cancellation both ways, drops, descriptors.
mod io_util;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use io_util::run;
use weft::net::{ReadError, ReadExact, ReadInto, Server, Stream, StreamKind};
use weft::Op;
use weft::{Bytes, Code, Error, Loop};

const EINCOMPLETE: Code = Code(weft::sys::weft_errno::WEFT_EINCOMPLETE);
const ELIMIT: Code = Code(weft::sys::weft_errno::WEFT_ELIMIT);
const EOBJCLOSED: Code = Code(weft::sys::weft_errno::WEFT_EOBJCLOSED);
const EBUSY: Code = Code(weft::sys::weft_errno::WEFT_EBUSY);
const ESHUTDOWN: Code = Code(weft::sys::weft_errno::WEFT_ESHUTDOWN);
const ECONNREFUSED: Code = Code(weft::sys::weft_errno::WEFT_ECONNREFUSED);
const ENOTSUP: Code = Code(weft::sys::weft_errno::WEFT_ENOTSUP);
const EAFNOSUPPORT: Code = Code(weft::sys::weft_errno::WEFT_EAFNOSUPPORT);

/// An echo server on `host`: each line comes back.
async fn echo_server(host: &str) -> weft::Result<Server> {
    let server = Server::bind(host, 0).await?;
    server.serve(|conn: Stream| async move {
        // until end of file, or until the server closes its clients
        while let Ok(line) = conn.read_line().await {
            if line.is_empty() || conn.write_all(&line).await.is_err() {
                break;
            }
        }
        conn.close()?;
        conn.wait_closed().await
    })?;
    Ok(server)
}

/// A connected pair over 127.0.0.1 (client, server side).
async fn pair() -> weft::Result<(Stream, Stream, Server)> {
    let server = Server::bind("127.0.0.1", 0).await?;
    let port = server.local_addr()?.port();
    let client = Stream::connect("127.0.0.1", port).await?;
    let conn = server.accept().await?;
    Ok((client, conn, server))
}

#[test]
fn echo_over_ipv4_and_ipv6() {
    run(async {
        for host in ["127.0.0.1", "::1"] {
            let server = match echo_server(host).await {
                Ok(s) => s,
                Err(err) if host == "::1" => {
                    eprintln!("no IPv6 loopback here ({err}): skipped");
                    continue;
                }
                Err(err) => panic!("{err}"),
            };
            assert!(server.is_serving());
            let addr = server.local_addr().unwrap();
            assert_eq!(addr.ip().to_string(), host);
            assert_ne!(addr.port(), 0);
            let c = Stream::connect(host, addr.port()).await.unwrap();
            assert_eq!(c.kind(), StreamKind::Tcp);
            assert_eq!(c.peer_addr().unwrap(), addr);
            assert_eq!(c.local_addr().unwrap().ip(), addr.ip());
            c.write(b"one\n").unwrap();
            c.write_owned(b"two\nthree".to_vec()).unwrap();
            c.write_owned("\n").unwrap();
            c.drain().await.unwrap();
            assert_eq!(c.read_line().await.unwrap(), b"one\n");
            assert_eq!(c.read_line().await.unwrap(), b"two\n");
            assert_eq!(c.read_line().await.unwrap(), b"three\n");
            c.close().unwrap();
            assert!(c.is_closing());
            c.wait_closed().await.unwrap();
            server.close().unwrap();
            assert!(!server.is_serving());
            server.wait_closed().await.unwrap();
        }
    });
}

#[test]
fn server_listens_on_every_resolved_address() {
    run(async {
        // numeric: one socket, the same address local_addr gives
        let one = echo_server("127.0.0.1").await.unwrap();
        assert_eq!(one.socket_count().unwrap(), 1);
        assert_eq!(one.local_addrs().unwrap(), vec![one.local_addr().unwrap()]);
        one.close().unwrap();
        one.wait_closed().await.unwrap();
        assert_eq!(one.socket_count().unwrap(), 0);
        assert!(one.local_addrs().unwrap().is_empty());

        // a name: one socket per address (127.0.0.1 and, where there is
        // one, ::1), each reachable
        let server = echo_server("localhost").await.unwrap();
        let addrs = server.local_addrs().unwrap();
        assert_eq!(addrs.len(), server.socket_count().unwrap());
        assert!(!addrs.is_empty());
        for addr in &addrs {
            assert!(addr.ip().is_loopback(), "{addr}");
            assert_ne!(addr.port(), 0);
            let c = Stream::connect(&addr.ip().to_string(), addr.port()).await.unwrap();
            c.write(b"ping\n").unwrap();
            assert_eq!(c.read_line().await.unwrap(), b"ping\n");
            c.close().unwrap();
            c.wait_closed().await.unwrap();
        }
        server.close().unwrap();
        server.wait_closed().await.unwrap();
        assert!(server.local_addrs().unwrap().is_empty());
    });
}

#[test]
fn fifty_concurrent_clients() {
    run(async {
        let server = echo_server("127.0.0.1").await.unwrap();
        let port = server.local_addr().unwrap().port();
        let clients: Vec<_> = (0..50)
            .map(|i| {
                weft::spawn(async move {
                    let c = Stream::connect("127.0.0.1", port).await?;
                    let msg = format!("hello {i}\n");
                    for _ in 0..3 {
                        c.write_all(msg.as_bytes()).await?;
                        let back = c.read_line().await?;
                        assert_eq!(back.to_str()?, msg);
                    }
                    c.close()?;
                    c.wait_closed().await?;
                    Ok::<usize, Error>(i)
                })
            })
            .collect();
        let done = weft::join_all(clients).await;
        assert_eq!(done.into_iter().map(Result::unwrap).sum::<usize>(), (0..50).sum());
        server.close().unwrap();
        server.wait_closed().await.unwrap();
    });
}

#[test]
fn reads_of_every_kind() {
    run(async {
        let (c, s, server) = pair().await.unwrap();
        s.write(b"abcdef\nline two\nxyz--rest").unwrap();
        s.write_eof().unwrap();
        assert_eq!(s.write(b"late").unwrap_err().code(), ESHUTDOWN);
        assert_eq!(c.read(0).await.unwrap(), b"");
        assert_eq!(c.read_exact(3).await.unwrap(), b"abc");
        let some = c.read(2).await.unwrap();
        assert!(!some.is_empty() && some.len() <= 2);
        assert!(b"de".starts_with(&some));
        if some.len() == 1 {
            assert_eq!(c.read_exact(1).await.unwrap(), b"e");
        }
        assert_eq!(c.read_line().await.unwrap(), b"f\n");
        assert_eq!(c.read_until(b" ").await.unwrap(), b"line ");
        assert_eq!(c.read_line().await.unwrap(), b"two\n");
        assert_eq!(c.read_until(b"--").await.unwrap(), b"xyz--");
        // the end of file before four bytes: the error carries the partial ones
        let err: ReadError = c.read_exact(10).await.unwrap_err();
        assert!(err.is_incomplete(), "{err}");
        assert_eq!(err.error.code(), EINCOMPLETE);
        assert_eq!(err.partial, b"rest");
        assert!(c.at_eof());
        assert_eq!(c.read_to_end().await.unwrap(), b"");
        assert_eq!(c.read_line().await.unwrap(), b"");
        let e2 = c.read_until(b"\n").await.unwrap_err();
        assert!(e2.is_incomplete());
        assert!(e2.partial.is_empty());
        server.close().unwrap();
    });
}

#[test]
fn read_into_a_moved_buffer() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        // nothing there yet: the read waits, then fills the buffer's start
        let read: ReadInto = c.read_into(vec![b'z'; 16]);
        s.write(b"hello").unwrap();
        let (n, buf) = read.await;
        let n = n.unwrap();
        assert!((1..=5).contains(&n));
        assert!(b"hello".starts_with(&buf[..n]));
        assert!(buf[n..].iter().all(|&b| b == b'z'), "nothing past the count");
        let mut got = buf[..n].to_vec();
        // small reads: at most the buffer's length each, in order
        let mut buf = vec![0u8; 2];
        while got.len() < 5 {
            let (n, b) = c.read_into(buf).await;
            let n = n.unwrap();
            assert!((1..=2).contains(&n));
            got.extend_from_slice(&b[..n]);
            buf = b;
        }
        assert_eq!(got, b"hello");
        // mixed with the other reads
        s.write(b"line\nrest").unwrap();
        assert_eq!(c.read_line().await.unwrap(), b"line\n");
        let (n, buf) = c.read_into(vec![0; 64]).await;
        let n = n.unwrap();
        assert!(b"rest".starts_with(&buf[..n]) && n >= 1);
        assert_eq!(c.read_exact(4 - n).await.unwrap(), &b"rest"[n..]);
        // one read at a time
        let pending = c.read_into(vec![0; 8]);
        let (r, _) = c.read_into(vec![0; 8]).await;
        assert_eq!(r.unwrap_err().code(), EBUSY);
        assert_eq!(c.read(1).await.unwrap_err().code(), EBUSY);
        // cancelled: the buffer comes back untouched, the bytes stay for the next read
        assert!(pending.cancel());
        let (r, buf) = pending.await;
        assert!(r.unwrap_err().is_cancelled());
        s.write(b"kept").unwrap();
        assert_eq!(c.read_exact(4).await.unwrap(), b"kept");
        assert!(buf.iter().all(|&b| b == 0));
        // dropped while pending: cancelled before its buffer is freed
        drop(c.read_into(vec![0; 8]));
        s.write(b"again").unwrap();
        assert_eq!(c.read_exact(5).await.unwrap(), b"again");
        // a timeout around it (which drops it) loses nothing either
        let r = weft::timeout(0.01, async { c.read_into(vec![0; 8]).await.0 }).await;
        assert!(r.unwrap_err().is_timeout());
        s.write(b"!").unwrap();
        let (n, buf) = c.read_into(vec![0; 8]).await;
        assert_eq!((n.unwrap(), buf[0]), (1, b'!'));
        // an empty buffer: 0 at once; end of file: 0
        let (n, buf) = c.read_into(Vec::new()).await;
        assert_eq!((n.unwrap(), buf.len()), (0, 0));
        s.write_eof().unwrap();
        let (n, _) = c.read_into(vec![0; 8]).await;
        assert_eq!(n.unwrap(), 0);
        c.close().unwrap();
        let (r, _) = c.read_into(vec![0; 8]).await;
        assert_eq!(r.unwrap_err().code(), EOBJCLOSED);
    });
}

#[test]
fn read_until_at_eof_and_limits() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        c.set_limit(8).unwrap();
        assert_eq!(c.set_limit(0).unwrap_err().code(), Code::INVALID);
        s.write(b"0123456789abcdef;tail").unwrap();
        s.drain().await.unwrap();
        // no ';' within the limit: ELIMIT, and the bytes stay buffered
        let over = c.read_until(b";").await.unwrap_err();
        assert_eq!(over.error.code(), ELIMIT);
        assert!(over.partial.is_empty());
        assert!(c.read_buffer_size().unwrap() > 8);
        c.set_limit(64).unwrap();
        assert_eq!(c.read_until(b";").await.unwrap(), b"0123456789abcdef;");
        s.close().unwrap();
        let err = c.read_until(b";").await.unwrap_err();
        assert!(err.is_incomplete());
        assert_eq!(err.partial, b"tail");
        // a long line is discarded by read_line
        let (c2, s2, _server2) = pair().await.unwrap();
        c2.set_limit(4).unwrap();
        s2.write(b"much too long\nok\n").unwrap();
        assert_eq!(c2.read_line().await.unwrap_err().code(), ELIMIT);
        assert_eq!(c2.read_line().await.unwrap(), b"ok\n");
        // bad delimiters
        assert_eq!(c2.read_until(b"").await.unwrap_err().error.code(), Code::INVALID);
        assert_eq!(c2.read_until(&[b'x'; 65]).await.unwrap_err().error.code(), Code::INVALID);
    });
}

#[test]
fn one_read_at_a_time_and_cancelled_reads_lose_nothing() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        let first = c.read(10);
        let second = c.read(10);
        assert_eq!(second.await.unwrap_err().code(), EBUSY);
        // dropping the pending read frees the slot and consumes nothing
        drop(first);
        let third = c.read_exact(4);
        assert!(third.cancel());
        assert!(third.await.unwrap_err().error.is_cancelled());
        s.write(b"data").unwrap();
        assert_eq!(c.read_exact(4).await.unwrap(), b"data");
        // a timeout around a read: nothing is lost either
        let r = weft::wait_for(c.read(10), 0.01).await;
        assert!(r.unwrap_err().is_timeout());
        let r = weft::timeout(0.01, c.read_line()).await;
        assert!(r.unwrap_err().is_timeout());
        s.write(b"more\n").unwrap();
        assert_eq!(c.read_line().await.unwrap(), b"more\n");
    });
}

#[test]
fn cancelling_the_task_cancels_its_read_and_c_cancels_rust() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        let reader = c.clone();
        let task = weft::spawn(async move { reader.read_line().await });
        weft::sleep(0.001).await.unwrap();
        assert!(task.cancel());
        assert!(task.await.unwrap_err().is_cancelled());
        // the other way: the C future a Rust task awaits is cancelled
        // (as C, Lua or Go code holding it would)
        let read = c.read_line();
        let raw = read.as_ptr();
        let waiter = weft::spawn(read);
        weft::sleep(0.001).await.unwrap();
        // SAFETY: a live future (the waiting task holds it)
        unsafe { weft::sys::weft_future_cancel(raw, std::ptr::null()) };
        assert!(waiter.await.unwrap_err().is_cancelled());
        s.write(b"still here\n").unwrap();
        assert_eq!(c.read_line().await.unwrap(), b"still here\n");
    });
}

#[test]
fn back_pressure_and_drain() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        c.set_write_buffer_limits(1 << 16, 1 << 14).unwrap();
        assert_eq!(c.set_write_buffer_limits(10, 20).unwrap_err().code(), Code::INVALID);
        // far more than the socket buffers take while nobody reads
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..32 {
            c.write_owned(chunk.clone()).unwrap();
        }
        let queued = c.write_buffer_size().unwrap();
        assert!(queued > 1 << 16, "queued {queued}");
        let drain = c.drain();
        assert!(!drain.is_done());
        c.write_eof().unwrap();
        let reader = weft::spawn(async move {
            let mut total = 0usize;
            loop {
                let b = s.read(1 << 16).await?;
                if b.is_empty() {
                    return Ok::<usize, Error>(total);
                }
                assert!(b.iter().all(|&x| x == 7));
                total += b.len();
            }
        });
        drain.await.unwrap();
        assert_eq!(reader.await.unwrap(), 32 << 20);
        assert_eq!(c.write_buffer_size().unwrap(), 0);
    });
}

#[test]
fn queued_owned_writes_are_released_by_abort_and_close() {
    run(async {
        let (c, _s, _server) = pair().await.unwrap();
        for _ in 0..16 {
            c.write_owned(vec![1u8; 1 << 20]).unwrap();
        }
        assert!(c.write_buffer_size().unwrap() > 0);
        c.abort().unwrap(); // the queued buffers are dropped (valgrind checks)
        assert_eq!(c.write_owned(vec![1u8; 10]).unwrap_err().code(), EOBJCLOSED);
        let (c2, _s2, _server2) = pair().await.unwrap();
        for _ in 0..16 {
            c2.write_owned(vec![2u8; 1 << 20]).unwrap();
        }
        // still queued when the loop closes
        c2
    });
}

#[test]
fn a_shielded_read_survives_the_cancellation() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        let c2 = c.clone();
        let t = weft::spawn(async move {
            let mut sh = weft::shield(c2.read_line());
            let first = (&mut sh).await;
            assert!(first.unwrap_err().is_cancelled());
            // the read went on: finish it
            Ok::<Vec<u8>, Error>(sh.into_inner().await?.to_vec())
        });
        weft::sleep(0.001).await.unwrap();
        assert!(t.cancel());
        s.write(b"late line\n").unwrap();
        assert_eq!(t.await.unwrap(), b"late line\n");
    });
}

#[test]
fn half_close_and_closing() {
    run(async {
        let (c, s, server) = pair().await.unwrap();
        c.write(b"question").unwrap();
        c.write_eof().unwrap();
        c.write_eof().unwrap(); // twice is fine
        assert_eq!(s.read_to_end().await.unwrap(), b"question");
        assert!(s.at_eof());
        s.write(b"answer").unwrap();
        s.close().unwrap();
        assert_eq!(c.read_to_end().await.unwrap(), b"answer");
        s.wait_closed().await.unwrap();
        // a pending read fails when its own side closes
        let (c2, _s2, _) = pair().await.unwrap();
        let pending = c2.read(5);
        c2.close().unwrap();
        c2.close().unwrap();
        assert_eq!(pending.await.unwrap_err().code(), EOBJCLOSED);
        assert_eq!(c2.write(b"x").unwrap_err().code(), EOBJCLOSED);
        assert_eq!(c2.read(1).await.unwrap_err().code(), EOBJCLOSED);
        // abort drops the queue
        let (c3, s3, _) = pair().await.unwrap();
        c3.abort().unwrap();
        assert!(c3.is_closing());
        c3.wait_closed().await.unwrap();
        assert_eq!(s3.read(5).await.map(|b| b.len()).unwrap_or(0), 0);
        server.close().unwrap();
        server.wait_closed().await.unwrap();
    });
}

#[test]
fn connect_errors_and_cancelled_connects() {
    run(async {
        let server = Server::bind("127.0.0.1", 0).await.unwrap();
        let port = server.local_addr().unwrap().port();
        server.close().unwrap();
        server.wait_closed().await.unwrap();
        assert_eq!(Stream::connect("127.0.0.1", port).await.unwrap_err().code(), ECONNREFUSED);
        // cancelled or dropped while pending: the half-open socket closes
        let op = Stream::connect("localhost", port);
        assert!(op.cancel());
        assert!(op.is_done());
        assert!(op.await.unwrap_err().is_cancelled());
        drop(Stream::connect("127.0.0.1", port));
        let e = Stream::connect("no such host.invalid", 80).await.unwrap_err();
        assert!(e.code().0 < 0, "{e}");
        assert_eq!(Stream::connect("bad\0host", 80).await.unwrap_err().code(), Code::INVALID);
        // a connect under wait_for and shield
        let live = echo_server("127.0.0.1").await.unwrap();
        let p = live.local_addr().unwrap().port();
        let c = weft::wait_for(Stream::connect("127.0.0.1", p), 30.0).await.unwrap();
        let c2 = weft::shield(Stream::connect("127.0.0.1", p)).await.unwrap();
        c.write_all(b"a\n").await.unwrap();
        c2.write_all(b"b\n").await.unwrap();
        assert_eq!(c.read_line().await.unwrap(), b"a\n");
        assert_eq!(c2.read_line().await.unwrap(), b"b\n");
        live.close().unwrap();
        live.close_clients().unwrap();
        live.wait_closed().await.unwrap();
    });
}

#[test]
fn accept_one_at_a_time() {
    run(async {
        let server = Server::bind("127.0.0.1", 0).await.unwrap();
        let port = server.local_addr().unwrap().port();
        // an accept that times out loses no connection
        let r = weft::timeout(0.01, server.accept()).await;
        assert!(r.unwrap_err().is_timeout());
        assert_eq!(server.serve(|_s: Stream| async {}).unwrap_err().code(), Code::STATE);
        let clients: Vec<Stream> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(Stream::connect("127.0.0.1", port).await.unwrap());
            }
            v
        };
        for (i, c) in clients.iter().enumerate() {
            c.write(format!("{i}").as_bytes()).unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            let conn = server.accept().await.unwrap();
            assert!(conn.peer_addr().unwrap().ip().is_loopback());
            got.push(conn.read_exact(1).await.unwrap().to_vec());
        }
        got.sort();
        assert_eq!(got, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        // a pending accept fails when the server closes
        let s2 = server.clone();
        let waiting = weft::spawn(async move { s2.accept().await.map(weft::Local) });
        weft::sleep(0.001).await.unwrap();
        server.close().unwrap();
        assert_eq!(waiting.await.unwrap_err().code(), EOBJCLOSED);
        assert_eq!(server.accept().await.unwrap_err().code(), EOBJCLOSED);
        assert!(format!("{server:?}").contains("Server"));
    });
}

#[test]
fn serve_errors_panics_and_close_clients() {
    run(async {
        let reports = Rc::new(RefCell::new(Vec::<String>::new()));
        let r2 = reports.clone();
        let lp = weft::current_loop().unwrap();
        lp.set_exception_handler(Some(move |ctx: &weft::ExceptionContext| r2.borrow_mut().push(ctx.message.clone())))
            .unwrap();
        let server = Server::bind("127.0.0.1", 0).await.unwrap();
        let port = server.local_addr().unwrap().port();
        let calls = Rc::new(Cell::new(0));
        let c2 = calls.clone();
        server
            .serve(move |conn: Stream| {
                c2.set(c2.get() + 1);
                if c2.get() == 1 {
                    panic!("handler panics");
                }
                async move {
                    let b = conn.read(1).await?;
                    if b == b"f" {
                        return Err(Error::new(-5, Some("handler fails")));
                    }
                    conn.write(b"ack")?;
                    weft::sleep(3600.0).await // held open until close_clients
                }
            })
            .unwrap();
        assert_eq!(server.serve(|_s: Stream| async {}).unwrap_err().code(), Code::STATE);
        let a = Stream::connect("127.0.0.1", port).await.unwrap();
        let b = Stream::connect("127.0.0.1", port).await.unwrap();
        let c = Stream::connect("127.0.0.1", port).await.unwrap();
        b.write(b"f").unwrap();
        c.write(b"k").unwrap();
        // the panicking handler's connection was closed at once
        assert_eq!(a.read(1).await.map(|x| x.len()).unwrap_or(0), 0);
        assert_eq!(b.read(1).await.map(|x| x.len()).unwrap_or(0), 0);
        assert_eq!(c.read_exact(3).await.unwrap(), b"ack");
        assert_eq!(server.close_clients().unwrap(), 1);
        assert_eq!(c.read(1).await.map(|x| x.len()).unwrap_or(0), 0);
        server.close().unwrap();
        let r = reports.borrow().join("\n");
        assert!(r.contains("handler panics"), "{r}");
        drop(server);
        drop((a, b, c));
        weft::sleep(0.01).await.unwrap();
        lp.set_exception_handler(None::<fn(&weft::ExceptionContext)>).unwrap();
    });
}

#[test]
fn unix_sockets() {
    let _g = io_util::serial();
    let dir = io_util::temp_dir("unix");
    let path = dir.join("echo.sock");
    run(async {
        let server = Server::bind_unix(&path).await.unwrap();
        assert_eq!(server.local_path().unwrap(), path);
        assert_eq!(server.local_addr().unwrap_err().code(), EAFNOSUPPORT);
        server.serve(|conn: Stream| async move { conn.write_all(&conn.read_to_end().await?).await }).unwrap();
        let c = Stream::connect_unix(&path).await.unwrap();
        assert_eq!(c.kind(), StreamKind::Unix);
        assert_eq!(c.peer_path().unwrap(), path);
        assert_eq!(c.local_path().unwrap(), std::path::PathBuf::new());
        assert_eq!(c.peer_addr().unwrap_err().code(), EAFNOSUPPORT);
        assert_eq!(c.set_nodelay(true).unwrap_err().code(), ENOTSUP);
        c.write(b"over unix").unwrap();
        c.write_eof().unwrap();
        assert_eq!(c.read_to_end().await.unwrap(), b"over unix");
        server.close().unwrap();
        server.wait_closed().await.unwrap();
        assert!(!path.exists(), "the socket file is removed on close");
        assert!(Stream::connect_unix(&path).await.is_err());
        assert_eq!(Stream::connect_unix("").await.unwrap_err().code(), Code::INVALID);
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn options_addresses_and_handles() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        c.set_nodelay(false).unwrap();
        c.set_nodelay(true).unwrap();
        c.set_keepalive(Some(Duration::from_secs(30))).unwrap();
        c.set_keepalive(None).unwrap();
        assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
        assert_eq!(c.local_addr().unwrap(), s.peer_addr().unwrap());
        assert_eq!(c.peer_path().unwrap_err().code(), EAFNOSUPPORT);
        let lp = c.event_loop();
        assert_eq!(lp, weft::current_loop().unwrap());
        // the C handle round trip
        let again = unsafe { Stream::from_borrowed(c.as_ptr()) };
        assert_eq!(again.as_ptr(), c.as_ptr());
        assert!(format!("{again:?}").contains("Tcp"));
        assert_eq!(c.read_buffer_size().unwrap(), 0);
        let addr: SocketAddr = c.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        assert!(!format!("{:?}", Stream::connect("127.0.0.1", 1)).is_empty());
        assert!(!s.as_ptr().is_null() && !_server.as_ptr().is_null());
    });
}

#[test]
fn ops_and_raw_handles() {
    run(async {
        let (c, s, server) = pair().await.unwrap();
        let op: Op<Bytes> = c.read(4);
        assert!(!op.is_done());
        assert!(op.try_result().is_none());
        assert!(!op.as_ptr().is_null());
        s.write(b"ping").unwrap();
        // a C future: await it natively through the raw pointer's clone
        let raw = unsafe { weft::Future::<Bytes>::from_borrowed(op.as_ptr()) };
        assert_eq!(raw.await.unwrap(), b"ping");
        assert!(op.is_done());
        assert_eq!(op.try_result().unwrap().unwrap(), b"ping");
        assert_eq!(op.await.unwrap(), b"ping");
        // gather reads the results of several ops
        s.write(b"xy").unwrap();
        let exact: ReadExact = c.read_exact(2);
        assert_eq!(exact.await.unwrap(), b"xy");
        let again = unsafe { Server::from_borrowed(server.as_ptr()) };
        assert_eq!(again.local_addr().unwrap(), server.local_addr().unwrap());
        let f1 = weft::fs::read("/dev/null");
        let f2 = weft::fs::read("/dev/null");
        let both = weft::gather::<Bytes, _>([&f1, &f2]).await.unwrap();
        assert!(both.iter().all(|b| b.is_empty()));
        // a broken op (no such operation could start)
        let bad = Stream::connect("bad\0host", 1);
        assert!(bad.is_done() && bad.as_ptr().is_null());
        assert_eq!(bad.try_result().unwrap().unwrap_err().code(), Code::INVALID);
    });
}

#[test]
fn read_error_conversions() {
    run(async {
        let (c, s, _server) = pair().await.unwrap();
        s.write(b"ab").unwrap();
        s.close().unwrap();
        let err = c.read_exact(3).await.unwrap_err();
        assert_eq!(err.to_string(), err.error.to_string());
        assert!(std::error::Error::source(&err).is_some());
        let partial: Bytes = err.partial.clone();
        let plain: Error = err.into();
        assert_eq!(plain.code(), EINCOMPLETE);
        assert_eq!(partial, b"ab");
        let back = ReadError::from(plain);
        assert!(back.partial.is_empty() && back.is_incomplete());
        // `?` converts a ReadError into an Error
        async fn want_three(s: &Stream) -> weft::Result<Bytes> {
            Ok(s.read_exact(3).await?)
        }
        assert_eq!(want_three(&c).await.unwrap_err().code(), EINCOMPLETE);
    });
}

#[test]
fn outside_a_loop_and_after_close() {
    let _g = io_util::serial();
    // no running loop: the op fails with ESTATE when awaited
    let op = Stream::connect("127.0.0.1", 1);
    let lp = Loop::new().unwrap();
    assert_eq!(lp.block_on(op).unwrap().unwrap_err().code(), Code::STATE);
    // made before the loop runs: no loop yet either
    assert_eq!(lp.block_on(Server::bind("127.0.0.1", 0)).unwrap().unwrap_err().code(), Code::STATE);
    assert!(lp.block_on(async { Server::bind("127.0.0.1", 0).await }).unwrap().is_ok());
    // streams and a pending read outlive the loop's close
    let (c, read, server) = lp
        .block_on(async {
            let (c, s, server) = pair().await.unwrap();
            let reader = c.clone();
            let task = weft::spawn(async move { reader.read_line().await });
            weft::sleep(0.001).await.unwrap();
            drop(s);
            (c, task, server)
        })
        .unwrap();
    lp.close().unwrap();
    assert!(c.is_closing());
    assert!(c.write(b"x").is_err());
    assert!(read.is_finished());
    drop((c, read, server));
    drop(lp);
}
