//! Subprocesses (`weft/process.h`, asyncio `create_subprocess_exec`) in
//! the shape of `std::process`: a [`Command`] builder, a [`Child`] whose
//! piped stdin, stdout and stderr are [`Stream`]s, and [`Child::wait`]
//! for its `std::process::ExitStatus`.
//!
//! Cancelling a pending [`Child::wait`] (or the task awaiting it, or a
//! [`crate::wait_for`] that times out) kills the child with SIGKILL; it is
//! still reaped.  A child nobody waits for keeps running when its [`Child`]
//! is dropped (unless [`Command::kill_on_drop`]); the loop's close kills
//! what still runs.
//!
//! ```
//! use weft::process::{Command, Stdio};
//!
//! let out = weft::run(async {
//!     let child = Command::new("tr").args(["a-z", "A-Z"]).stdin(Stdio::Piped).stdout(Stdio::Piped).spawn()?;
//!     let stdin = child.stdin.clone().unwrap();
//!     stdin.write(b"hello\n")?;
//!     stdin.close()?; // end of file for the child
//!     child.wait_with_output().await
//! });
//! let out = out.unwrap().unwrap();
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"HELLO\n");
//! ```
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};
use std::ptr::{null, null_mut, NonNull};

use weft_sys as sys;
use weft_sys::weft_errno as e;

use crate::error::{check, Error, Result};
use crate::event_loop::nonnull;
use crate::io::{running_loop, Op};
use crate::net::Stream;
use crate::signal::Signal;

/// What a child's stdin, stdout or stderr is connected to (`enum
/// weft_stdio`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stdio {
    /// The parent's own descriptor.
    Inherit,
    /// A pipe: a [`Stream`] in the parent ([`Child::stdin`], ...).
    Piped,
    /// `/dev/null`.
    Null,
}

impl Stdio {
    fn to_c(self) -> i32 {
        use sys::weft_stdio as s;
        (match self {
            Stdio::Inherit => s::WEFT_STDIO_INHERIT,
            Stdio::Piped => s::WEFT_STDIO_PIPE,
            Stdio::Null => s::WEFT_STDIO_DEVNULL,
        }) as i32
    }
}

/// A process to start (std's `Command`): the program (searched in `PATH`
/// when it has no slash), its arguments, environment, working directory
/// and standard streams.
#[derive(Clone, Debug)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdio: [Option<Stdio>; 3],
    kill_on_drop: bool,
}

fn c_os(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| Error::with_message(e::WEFT_EINVAL, "an argument with a NUL byte"))
}

impl Command {
    /// A command running `program`, with no arguments, the parent's
    /// environment and directory, and every stream inherited.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            stdio: [None; 3],
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable of the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child's environment empty (then [`Command::env`] adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets the child's stdin ([`Stdio::Inherit`] by default).
    pub fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.stdio[0] = Some(s);
        self
    }

    /// Sets the child's stdout ([`Stdio::Inherit`] by default).
    pub fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.stdio[1] = Some(s);
        self
    }

    /// Sets the child's stderr ([`Stdio::Inherit`] by default).
    pub fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.stdio[2] = Some(s);
        self
    }

    /// Kills the child (SIGKILL) when its [`Child`] is dropped before it
    /// exited (tokio's `kill_on_drop`); off by default.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
        self.kill_on_drop = on;
        self
    }

    /// The environment to pass: None to inherit the parent's unchanged.
    fn environment(&self) -> Result<Option<Vec<CString>>> {
        if !self.env_clear && self.env.is_empty() {
            return Ok(None);
        }
        let mut vars: Vec<(OsString, OsString)> =
            if self.env_clear { Vec::new() } else { std::env::vars_os().collect() };
        for (k, v) in &self.env {
            vars.retain(|(name, _)| name != k);
            if let Some(v) = v {
                vars.push((k.clone(), v.clone()));
            }
        }
        vars.into_iter()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                c_os(&kv)
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn spawn_with(&self, defaults: [Stdio; 3]) -> Result<Child> {
        let mut argv = vec![c_os(&self.program)?];
        for a in &self.args {
            argv.push(c_os(a)?);
        }
        let mut argv_p: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_p.push(null());
        let env = self.environment()?;
        let mut env_p: Vec<*const c_char> = Vec::new();
        if let Some(env) = &env {
            env_p = env.iter().map(|v| v.as_ptr()).collect();
            env_p.push(null());
        }
        let cwd = self.cwd.as_ref().map(|d| c_os(d.as_os_str())).transpose()?;
        let modes: Vec<Stdio> = (0..3).map(|i| self.stdio[i].unwrap_or(defaults[i])).collect();
        let lp = running_loop()?;
        // SAFETY: live loop; every string is used before the call returns
        let p = unsafe {
            sys::weft_process_spawn(
                lp,
                argv_p.as_ptr(),
                if env.is_some() { env_p.as_ptr() } else { null() },
                cwd.as_ref().map_or(null(), |c| c.as_ptr()),
                modes[0].to_c(),
                modes[1].to_c(),
                modes[2].to_c(),
            )
        };
        let raw = NonNull::new(p).ok_or_else(Error::last)?;
        let p = raw.as_ptr();
        // SAFETY: the pipes are borrowed from the process (NULL unless
        // piped); Stream takes a reference of its own
        let pipe = |mode: Stdio, s: *mut sys::weft_stream_t| {
            (mode == Stdio::Piped && !s.is_null()).then(|| unsafe { Stream::from_borrowed(s) })
        };
        let (i, o, e) = unsafe {
            (
                if modes[0] == Stdio::Piped { sys::weft_process_stdin(p) } else { null_mut() },
                if modes[1] == Stdio::Piped { sys::weft_process_stdout(p) } else { null_mut() },
                if modes[2] == Stdio::Piped { sys::weft_process_stderr(p) } else { null_mut() },
            )
        };
        Ok(Child {
            stdin: pipe(modes[0], i),
            stdout: pipe(modes[1], o),
            stderr: pipe(modes[2], e),
            raw,
            kill_on_drop: self.kill_on_drop,
            _not_send: PhantomData,
        })
    }

    /// Starts the child on the running loop (`weft_process_spawn`).
    /// Errors: `ENOENT`, `EACCES` (starting the program), `EINVAL` (an
    /// empty program, a NUL byte), `ESTATE` outside a running loop.
    pub fn spawn(&self) -> Result<Child> {
        self.spawn_with([Stdio::Inherit; 3])
    }

    /// Runs the child to its end and collects its output (std's
    /// `output`): stdout and stderr are piped and stdin is `/dev/null`
    /// unless set otherwise.
    pub async fn output(&self) -> Result<Output> {
        self.spawn_with([Stdio::Null, Stdio::Piped, Stdio::Piped])?.wait_with_output().await
    }

    /// Runs the child to its end and gives its exit status (std's
    /// `status`).
    pub async fn status(&self) -> Result<ExitStatus> {
        self.spawn()?.wait().await
    }
}

/// A child process (`weft_process_t`, std's `Child`).  Its piped streams
/// are in the public fields (take or clone them); they stay usable after
/// the `Child` is dropped.
pub struct Child {
    /// The child's stdin, if piped: write, then close (or
    /// [`Stream::write_eof`]) to let it see end of file.
    pub stdin: Option<Stream>,
    /// The child's stdout, if piped.
    pub stdout: Option<Stream>,
    /// The child's stderr, if piped.
    pub stderr: Option<Stream>,
    raw: NonNull<sys::weft_process_t>,
    kill_on_drop: bool,
    _not_send: PhantomData<*const ()>,
}

/// asyncio's return code (exit status, or minus the signal) as std's type.
fn status_of_code(code: i64) -> ExitStatus {
    if code >= 0 {
        ExitStatus::from_raw(((code & 0xff) as i32) << 8)
    } else {
        ExitStatus::from_raw((-code & 0x7f) as i32)
    }
}

unsafe fn status_of(raw: *mut sys::weft_future_t) -> Result<ExitStatus> {
    <i64 as crate::Value>::read(raw).map(status_of_code)
}

impl Child {
    fn p(&self) -> *mut sys::weft_process_t {
        self.raw.as_ptr()
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        // SAFETY: live process
        unsafe { sys::weft_process_pid(self.p()) }.max(0) as u32
    }

    /// Completes with the exit status once the child exits (at once if it
    /// has).  Several waits may be pending.  Dropping or cancelling a
    /// pending wait kills the child (SIGKILL).
    pub fn wait(&self) -> Op<ExitStatus> {
        // SAFETY: live process
        Op::new(nonnull(unsafe { sys::weft_process_wait(self.p()) }), status_of)
    }

    /// The exit status if the child has exited, else `None` (std's
    /// `try_wait`).
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        let (mut status, mut sig) = (0, 0);
        // SAFETY: live process
        match unsafe { sys::weft_process_exit_status(self.p(), &mut status, &mut sig) } {
            0 if sig != 0 => Ok(Some(ExitStatus::from_raw(sig & 0x7f))),
            0 => Ok(Some(ExitStatus::from_raw((status & 0xff) << 8))),
            e::WEFT_EPENDING => Ok(None),
            rc => Err(Error::from_code(rc)),
        }
    }

    /// Sends `sig` to the child (asyncio `send_signal`); `ESRCH` once it
    /// has exited.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        // SAFETY: live process
        check(unsafe { sys::weft_process_send_signal(self.p(), sig.0) }).map(drop)
    }

    /// Kills the child with SIGKILL (std's `kill`, without the wait); `ESRCH`
    /// once it has exited.
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Closes stdin, reads stdout and stderr to their end (at the same
    /// time) and waits for the exit (std's `wait_with_output`).  A stream
    /// that is not piped gives no bytes.
    pub async fn wait_with_output(mut self) -> Result<Output> {
        if let Some(s) = self.stdin.take() {
            s.close()?;
        }
        // both reads start now and run side by side; then the wait
        let out = self.stdout.take().map(|s| s.read_to_end());
        let err = self.stderr.take().map(|s| s.read_to_end());
        let stdout = match out {
            Some(f) => f.await?.to_vec(),
            None => Vec::new(),
        };
        let stderr = match err {
            Some(f) => f.await?.to_vec(),
            None => Vec::new(),
        };
        let status = self.wait().await?;
        Ok(Output { status, stdout, stderr })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.kill_on_drop && matches!(self.try_wait(), Ok(None)) {
            let _ = self.kill();
        }
        // SAFETY: our reference; a running child keeps running
        unsafe { sys::weft_process_unref(self.p()) };
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("id", &self.id()).field("status", &self.try_wait().ok().flatten()).finish()
    }
}
