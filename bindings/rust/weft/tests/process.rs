//! Subprocesses: pipes as streams, exit statuses, environment and
//! directory, signals, kill on cancel and on drop, spawn errors.
mod io_util;

use std::os::unix::process::ExitStatusExt;

use io_util::run;
use weft::net::StreamKind;
use weft::process::{Child, Command, Stdio};
use weft::signal::Signal;
use weft::Code;

const ENOENT: Code = Code(weft::sys::weft_errno::WEFT_ENOENT);
const ESRCH: Code = Code(weft::sys::weft_errno::WEFT_ESRCH);

#[test]
fn pipes_and_exit_status() {
    run(async {
        let mut child: Child = Command::new("sh")
            .args(["-c", "tr a-z A-Z; echo oops >&2; exit 3"])
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped)
            .stderr(Stdio::Piped)
            .spawn()
            .unwrap();
        assert!(child.id() > 0);
        let stdin = child.stdin.take().unwrap();
        assert_eq!(stdin.kind(), StreamKind::Pipe);
        stdin.write_all(b"hello\nworld\n").await.unwrap();
        stdin.write_eof().unwrap();
        let out = child.stdout.clone().unwrap();
        assert_eq!(out.read_line().await.unwrap(), b"HELLO\n");
        assert_eq!(out.read_line().await.unwrap(), b"WORLD\n");
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(!status.success());
        assert_eq!(child.try_wait().unwrap(), Some(status));
        assert_eq!(child.signal(Signal::TERM).unwrap_err().code(), ESRCH);
        let rest = child.wait_with_output().await.unwrap();
        assert_eq!(rest.stderr, b"oops\n");
        assert_eq!(rest.status.code(), Some(3));
    });
}

#[test]
fn output_status_env_and_dir() {
    let _g = io_util::serial();
    let dir = io_util::temp_dir("proc");
    run(async {
        let out = Command::new("sh")
            .args(["-c", "echo $A-$B-$HOME; pwd; cat"])
            .env("A", "1")
            .env("B", "2")
            .env_remove("HOME")
            .current_dir(&dir)
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let canon = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(text, format!("1-2-\n{}\n", canon.display()), "stdin is /dev/null for output()");
        let clean = Command::new("/usr/bin/env").env_clear().env("ONLY", "this").output().await.unwrap();
        assert_eq!(clean.stdout, b"ONLY=this\n");
        let st = Command::new("true").stdout(Stdio::Null).status().await.unwrap();
        assert!(st.success());
        let inherited = Command::new("sh").args(["-c", "exit 0"]).stdin(Stdio::Inherit).status().await.unwrap();
        assert_eq!(inherited.code(), Some(0));
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn signals_kill_on_cancel_and_on_drop() {
    run(async {
        let c = Command::new("sleep").arg("60").spawn().unwrap();
        assert_eq!(c.try_wait().unwrap(), None);
        c.signal(Signal::TERM).unwrap();
        let st = c.wait().await.unwrap();
        assert_eq!(st.signal(), Some(15));
        assert_eq!(st.code(), None);
        // a wait that times out kills the child
        let c = Command::new("sleep").arg("60").spawn().unwrap();
        assert!(weft::wait_for(c.wait(), 0.01).await.unwrap_err().is_timeout());
        assert_eq!(c.wait().await.unwrap().signal(), Some(9));
        // so does a task cancelled while it waits
        let c = Command::new("sleep").arg("60").spawn().unwrap();
        let w = c.wait();
        let t = weft::spawn(async move { w.await.map(|s| s.signal().unwrap_or(0)) });
        weft::sleep(0.001).await.unwrap();
        t.cancel();
        assert!(t.await.unwrap_err().is_cancelled());
        assert_eq!(c.wait().await.unwrap().signal(), Some(9));
        // kill, and kill_on_drop
        let c = Command::new("sleep").arg("60").spawn().unwrap();
        c.kill().unwrap();
        assert_eq!(c.wait().await.unwrap().signal(), Some(9));
        let c = Command::new("sleep").arg("60").kill_on_drop(true).spawn().unwrap();
        let pid = c.id();
        assert!(format!("{c:?}").contains("Child"));
        drop(c);
        // the child is gone once reaped: poll /proc a bounded number of times
        for _ in 0..5000 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            weft::sleep(0.002).await.unwrap();
        }
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    });
}

#[test]
fn spawn_errors_and_close_kills() {
    let kept = run(async {
        assert_eq!(Command::new("/no/such/program").spawn().unwrap_err().code(), ENOENT);
        assert_eq!(Command::new("").spawn().unwrap_err().code(), Code::INVALID);
        assert_eq!(Command::new("echo").arg("a\0b").spawn().unwrap_err().code(), Code::INVALID);
        // a child still running when the loop closes is killed and reaped
        // (run counts the descriptors before its pipe's handle goes)
        let c = Command::new("sleep").arg("60").stdout(Stdio::Piped).spawn().unwrap();
        c.stdout.clone()
    });
    assert!(kept.unwrap().is_closing());
    let _g = io_util::serial();
    assert_eq!(Command::new("true").spawn().unwrap_err().code(), Code::STATE);
}
