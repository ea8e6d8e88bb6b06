//! Files as weft futures, on libuv's thread pool (`weft/fs.h`): whole-file
//! [`read()`] and [`write()`], and [`File`] with reads and writes at offsets.
//!
//! Every call is made on the running loop and returns a future at once;
//! failures of the system calls reach it as their codes (`ENOENT`,
//! `EACCES`, `EISDIR`, `ENOSPC`, ...; the message of a failed whole-file
//! call or open is the path).  Dropping or cancelling a pending future
//! cancels the request if the pool has not started it; one already
//! running completes (a write may have happened) and its result is
//! dropped.  The loop's close waits for running requests and closes every
//! file still open.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("weft-fs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("hello.txt");
//! let text = weft::run(async {
//!     weft::fs::write(&path, b"hello").await?;
//!     weft::fs::read_to_string(&path).await
//! });
//! assert_eq!(text.unwrap().unwrap(), "hello");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::c_void;
use std::path::Path;
use std::ptr::NonNull;

use weft_sys as sys;
use weft_sys::weft_fs_flags as f;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::event_loop::nonnull;
use crate::io::{c_path, on_loop, Op};

fn read_raw(path: &Path) -> Result<*mut sys::weft_future_t> {
    let p = c_path(path)?;
    // SAFETY: the path is copied
    on_loop(|lp| unsafe { sys::weft_fs_read_file(lp, p.as_ptr()) })
}

/// Reads the whole file at `path` (`weft_fs_read_file`: opened, read and
/// closed on one pool thread).
pub fn read(path: impl AsRef<Path>) -> Op<Bytes> {
    Op::value(read_raw(path.as_ref()))
}

/// Reads the whole file at `path` as UTF-8 text (`ECHARSET` if it is not).
pub fn read_to_string(path: impl AsRef<Path>) -> Op<String> {
    Op::value(read_raw(path.as_ref()))
}

/// Writes `data` as the whole content of the file at `path`: created with
/// mode 0o666 (masked by the umask) if missing, truncated if not
/// (`weft_fs_write_file`; `data` is copied).  Gives the number of bytes
/// written.
pub fn write(path: impl AsRef<Path>, data: impl AsRef<[u8]>) -> Op<usize> {
    let data = data.as_ref();
    let r = c_path(path.as_ref()).and_then(|p| {
        // SAFETY: path and data are copied
        on_loop(|lp| unsafe {
            sys::weft_fs_write_file(lp, p.as_ptr(), data.as_ptr() as *const c_void, data.len(), 0o666)
        })
    });
    Op::value(r)
}

/// How [`OpenOptions::open`] opens a file (std's `OpenOptions`, with
/// `weft_fs_open`'s flags).
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    flags: u32,
    mode: i32,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// No access yet (set [`OpenOptions::read`] or [`OpenOptions::write`]);
    /// mode 0o666 for a created file.
    pub fn new() -> OpenOptions {
        OpenOptions { flags: 0, mode: 0o666 }
    }

    fn set(&mut self, bit: u32, on: bool) -> &mut OpenOptions {
        if on {
            self.flags |= bit;
        } else {
            self.flags &= !bit;
        }
        self
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_READ, on)
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_WRITE, on)
    }

    /// Every write goes to the end (O_APPEND; implies writing).
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_APPEND | f::WEFT_FS_WRITE, on)
    }

    /// Truncate the file to 0 bytes.
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_TRUNCATE, on)
    }

    /// Create the file if it does not exist.
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_CREATE, on)
    }

    /// Create the file, failing with `EEXIST` if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.set(f::WEFT_FS_CREATE | f::WEFT_FS_EXCLUSIVE, on)
    }

    /// The permission bits of a created file (masked by the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = i32::try_from(mode).unwrap_or(-1);
        self
    }

    /// Opens `path` on the running loop (`weft_fs_open`).  `EINVAL` at
    /// once if neither read nor write was asked for.
    pub fn open(&self, path: impl AsRef<Path>) -> Op<File> {
        let r = c_path(path.as_ref()).and_then(|p| {
            // SAFETY: the path is copied
            on_loop(|lp| unsafe { sys::weft_fs_open(lp, p.as_ptr(), self.flags, self.mode) })
        });
        Op::new(r, file_of)
    }
}

/// An open file (`weft_file_t`) whose reads and writes are futures on the
/// thread pool.  `Clone` adds a reference.  It keeps its descriptor until
/// [`File::close`], the loop's close, or its last reference (which closes
/// the descriptor at once, without the pool).  Requests in flight keep
/// the file open.
pub struct File {
    raw: NonNull<sys::weft_file_t>,
    _not_send: PhantomData<*const ()>,
}

unsafe fn file_of(raw: *mut sys::weft_future_t) -> Result<File> {
    let mut p: *mut c_void = std::ptr::null_mut();
    let rc = sys::weft_future_result_ptr(raw, &mut p);
    if rc != 0 {
        return Err(Error::of_future(raw, rc));
    }
    // SAFETY: the open future's pointer is a file it owns; we add ours
    match NonNull::new(sys::weft_file_ref(p as *mut sys::weft_file_t)) {
        Some(raw) => Ok(File { raw, _not_send: PhantomData }),
        None => Err(Error::from_code(sys::weft_errno::WEFT_EINVAL)),
    }
}

impl File {
    /// Opens `path` for reading (std's `File::open`).
    pub fn open(path: impl AsRef<Path>) -> Op<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` for writing, created if missing and truncated (std's
    /// `File::create`).
    pub fn create(path: impl AsRef<Path>) -> Op<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    /// Options for opening a file.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    fn p(&self) -> *mut sys::weft_file_t {
        self.raw.as_ptr()
    }

    fn read_from(&self, offset: i64, max: usize) -> Op<Bytes> {
        // SAFETY: live file
        Op::value(nonnull(unsafe { sys::weft_file_read(self.p(), offset, max) }))
    }

    fn write_from(&self, offset: i64, data: &[u8]) -> Op<usize> {
        // SAFETY: live file; data copied
        Op::value(nonnull(unsafe {
            sys::weft_file_write(self.p(), offset, data.as_ptr() as *const c_void, data.len())
        }))
    }

    /// Reads up to `max` bytes at byte `offset` (fewer near the end, none
    /// at the end).  `EBADF` for a file not opened for reading,
    /// `EOBJCLOSED` after [`File::close`].
    pub fn read_at(&self, offset: u64, max: usize) -> Op<Bytes> {
        self.read_from(i64::try_from(offset).unwrap_or(i64::MAX), max)
    }

    /// Reads up to `max` bytes at the current position, which advances.
    pub fn read(&self, max: usize) -> Op<Bytes> {
        self.read_from(-1, max)
    }

    /// Writes all of `data` (copied) at byte `offset`; gives its length.
    /// `EBADF` for a file not opened for writing.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Op<usize> {
        self.write_from(i64::try_from(offset).unwrap_or(i64::MAX), data)
    }

    /// Writes all of `data` at the current position (at the end with
    /// [`OpenOptions::append`]).
    pub fn write(&self, data: &[u8]) -> Op<usize> {
        self.write_from(-1, data)
    }

    /// Closes the file once the requests in flight are done; later ones
    /// are refused with `EOBJCLOSED`.  Cancelling the future does not stop
    /// the close.
    pub fn close(&self) -> Op<()> {
        // SAFETY: live file
        Op::value(nonnull(unsafe { sys::weft_file_close(self.p()) }))
    }
}

impl Clone for File {
    fn clone(&self) -> File {
        // SAFETY: any-thread ref
        unsafe { sys::weft_file_ref(self.p()) };
        File { raw: self.raw, _not_send: PhantomData }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: our reference
        unsafe { sys::weft_file_unref(self.p()) };
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.raw).finish()
    }
}
