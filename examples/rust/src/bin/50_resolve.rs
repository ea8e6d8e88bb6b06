//! 50: getaddrinfo and getnameinfo as futures on libuv's thread pool
//! (asyncio loop.getaddrinfo / loop.getnameinfo), with std::net types.
use weft::dns::{self, AiFlags, Hints, NiFlags, SockType};
use weft::Error;

fn main() {
    weft::run(async {
        // a numeric host: no lookup, one entry per address
        let hints = Hints {
            socktype: SockType::Stream,
            flags: AiFlags::NUMERICHOST,
            ..Hints::default()
        };
        let info = dns::getaddrinfo(Some("127.0.0.1"), Some("80"), hints).await?;
        for e in &info.entries {
            println!("{} ({:?}, protocol {})", e.addr, e.socktype, e.protocol);
        }
        // a name (from /etc/hosts here): every address is a loopback one
        let local = dns::lookup_host("localhost", 8080).await?;
        println!(
            "localhost: {} loopback",
            if local.iter().all(|a| a.ip().is_loopback()) {
                "all"
            } else {
                "not all"
            }
        );
        let flags = NiFlags::NUMERICHOST | NiFlags::NUMERICSERV;
        let names = dns::getnameinfo("127.0.0.1:22".parse().unwrap(), flags).await?;
        println!("{names:?}");
        match dns::lookup_host("no-such-host.invalid", 80).await {
            // EAI_NONAME, or EAI_AGAIN where no DNS server answers
            Err(e) => println!(
                "no-such-host.invalid: not found ({})",
                e.code().name().starts_with("EAI_")
            ),
            Ok(a) => println!("resolved? {a:?}"),
        }
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// 127.0.0.1:80 (Stream, protocol 6)
// localhost: all loopback
// ("127.0.0.1", "22")
// no-such-host.invalid: not found (true)
