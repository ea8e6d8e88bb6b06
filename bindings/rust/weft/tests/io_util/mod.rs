//! What the I/O tests share: one test at a time per binary (they count the
//! process's open file descriptors), and a run on a fresh loop that must
//! leave as many descriptors open as it found.
#![allow(dead_code)]
use std::future::Future as StdFuture;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use weft::Loop;

static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    static HELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The serial lock, held by this thread until dropped (a thread that holds
/// it already gets an empty guard).
pub struct Serial(Option<MutexGuard<'static, ()>>);

impl Drop for Serial {
    fn drop(&mut self) {
        if self.0.is_some() {
            HELD.with(|h| h.set(false));
        }
    }
}

/// Serialises the tests of one binary (fd counts, signals): a test that
/// touches files outside [`run`] takes it first.  The first call makes and
/// closes a loop: libuv opens a process-wide pipe (its signal lock) at the
/// first loop, and keeps it.
pub fn serial() -> Serial {
    if HELD.with(|h| h.get()) {
        return Serial(None);
    }
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    HELD.with(|h| h.set(true));
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| drop(Loop::new().unwrap()));
    Serial(Some(g))
}

/// The process's open file descriptors now.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Runs `fut` as the main task of a new loop, closes the loop, and checks
/// that no file descriptor was left open.
pub fn run<F: StdFuture>(fut: F) -> F::Output {
    let _g = serial();
    let before = open_fds();
    let out = {
        let lp = Loop::new().unwrap();
        let out = lp.block_on(fut).expect("block_on");
        lp.close().unwrap();
        out
    };
    if open_fds() != before {
        for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            eprintln!("fd {:?} -> {:?}", e.file_name(), std::fs::read_link(e.path()));
        }
    }
    assert_eq!(open_fds(), before, "file descriptors leaked");
    out
}

/// A fresh empty directory under the system's temporary one.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("weft-rust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
