//! The peer kit's task workloads (shared/bench/peers/README.md) with Rust
//! async code on weft, printed as the kit's result lines (impl=weft-rust):
//!
//!   weft_rust_tasks spawn|pingpong|sleepers N
//!
//! * spawn: N `weft::spawn(async move { i })` from the main task, then every
//!   JoinHandle awaited in creation order; the sum must be N(N-1)/2.
//! * pingpong: two spawned tasks hand a token through a fresh weft future
//!   per hop (the receiver makes its next inbox before handing the token on,
//!   the sender sets the other side's future); the token must end at 2M.
//! * sleepers: K tasks, task i `weft::sleep(((i * 7919) % 101) ms)`, joined
//!   in creation order; per_task_b = (VmHWM - VmRSS before the tasks) / K.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use weft::{Error, Future, Loop};

const IMPL: &str = "weft-rust";

fn status_kb(key: &str) -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            return rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
        }
    }
    -1
}

fn emit(workload: &str, n: u64, secs: f64, extra: &str) {
    let mut line = format!(
        "workload={workload} impl={IMPL} n={n} seconds={secs:.6} rate={:.0} rss_kb={}",
        n as f64 / secs,
        status_kb("VmHWM")
    );
    if !extra.is_empty() {
        line.push(' ');
        line.push_str(extra);
    }
    println!("{line}");
}

async fn spawn(n: u64) -> f64 {
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        handles.push(weft::spawn(async move { i as i64 }));
    }
    let mut sum = 0i64;
    for h in handles {
        sum += h.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(sum as u64, n * (n - 1) / 2);
    secs
}

type Inbox = Rc<RefCell<Future<i64>>>;

/// Waits for the token in `mine`, makes the next inbox, hands token + 1 on.
async fn hop(mine: &Inbox, other: &Inbox) -> weft::Result<i64> {
    let current = mine.borrow().clone();
    let tok = current.await?;
    *mine.borrow_mut() = weft::create_future();
    other.borrow().set_result(tok + 1)?;
    Ok(tok + 1)
}

async fn pingpong(m: u64) -> f64 {
    let t0 = Instant::now();
    let ping_in: Inbox = Rc::new(RefCell::new(weft::create_future()));
    let pong_in: Inbox = Rc::new(RefCell::new(weft::create_future()));
    let (a, b) = (ping_in.clone(), pong_in.clone());
    let pong = weft::spawn(async move {
        for _ in 0..m {
            hop(&b, &a).await?;
        }
        Ok::<(), Error>(())
    });
    let (a, b) = (ping_in.clone(), pong_in.clone());
    let ping = weft::spawn(async move {
        b.borrow().set_result(1)?; // the first hop
        let mut tok = 1;
        for i in 0..m {
            let current = a.borrow().clone();
            tok = current.await?;
            *a.borrow_mut() = weft::create_future();
            if i + 1 < m {
                b.borrow().set_result(tok + 1)?;
            }
        }
        Ok::<i64, Error>(tok)
    });
    let tok = ping.await.unwrap();
    pong.await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(tok as u64, 2 * m);
    secs
}

async fn sleepers(k: u64) -> f64 {
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(k as usize);
    for i in 0..k {
        let ms = (i * 7919) % 101;
        handles.push(weft::spawn(
            async move { weft::sleep(ms as f64 / 1000.0).await },
        ));
    }
    for h in handles {
        h.await.unwrap();
    }
    t0.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: weft_rust_tasks spawn|pingpong|sleepers N");
        std::process::exit(2);
    }
    let n: u64 = args[2].parse().expect("N");
    let lp = Loop::new().expect("weft loop");
    match args[1].as_str() {
        "spawn" => {
            let secs = lp.block_on(spawn(n)).unwrap();
            emit("spawn", n, secs, "");
        }
        "pingpong" => {
            let secs = lp.block_on(pingpong(n)).unwrap();
            emit(
                "pingpong",
                n,
                secs,
                &format!("ns_per_hop={:.1}", secs * 1e9 / (2 * n) as f64),
            );
        }
        "sleepers" => {
            let base = status_kb("VmRSS");
            let secs = lp.block_on(sleepers(n)).unwrap();
            let hwm = status_kb("VmHWM");
            let per = (hwm - base) as f64 * 1024.0 / n as f64;
            emit(
                "sleepers",
                n,
                secs,
                &format!("base_rss_kb={base} per_task_b={per:.0}"),
            );
        }
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    }
}
