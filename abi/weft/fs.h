/*
 * weft/fs.h: files as futures, on libuv's thread pool.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 *   weft_fs_read_file / weft_fs_write_file   a whole file in one call
 *   weft_fs_open -> weft_file_t              then read / write at offsets, close
 *
 * Every call returns a new future owned by the caller, or NULL with
 * weft_last_error() set when the call itself is refused (bad input, wrong
 * thread, closed loop, closed file, no memory); a refused call has no future
 * and no effect.  Failures of the system calls reach the future as libuv's
 * codes (WEFT_ENOENT, WEFT_EACCES, WEFT_EISDIR, WEFT_ENOSPC, ...); the
 * message of a failed whole-file call or open is the path.
 *
 * Cancelling a future (weft_future_cancel, dropping its last reference while
 * it is pending, or closing the loop) cancels the request when the thread
 * pool has not started it; one already running completes (a write may then
 * have happened) and its result is discarded.  weft_loop_close waits for the
 * requests that are running and closes every file still open, so no
 * descriptor outlives the loop's close.
 *
 * A weft_file_t is reference-counted (ref/unref from any thread).  It keeps
 * its descriptor until weft_file_close, the loop's close, or its last
 * reference, whichever comes first (the last two close the descriptor
 * directly, not through the thread pool; see weft_file_unref).  Every
 * request in flight holds a reference to its file.  Apart from ref/unref,
 * the calls are for the loop's owner thread.
 */
#ifndef WEFT_FS_H
#define WEFT_FS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open file. */
typedef struct weft_file weft_file_t;

/** Flags of weft_fs_open (bits; mapped to O_* inside, always with O_CLOEXEC). */
enum weft_fs_flags {
  WEFT_FS_READ = 1 << 0,      /**< open for reading */
  WEFT_FS_WRITE = 1 << 1,     /**< open for writing (with READ: both) */
  WEFT_FS_CREATE = 1 << 2,    /**< create the file if it does not exist (O_CREAT) */
  WEFT_FS_TRUNCATE = 1 << 3,  /**< truncate it to 0 bytes (O_TRUNC) */
  WEFT_FS_APPEND = 1 << 4,    /**< every write goes to the end (O_APPEND) */
  WEFT_FS_EXCLUSIVE = 1 << 5  /**< with CREATE: fail with WEFT_EEXIST if it exists */
};

/* ---- whole files --------------------------------------------------------- */

/**
 * Reads the whole file at `path` (copied).  The future's result is the
 * file's content as bytes (WEFT_VALUE_BYTES; a 0-byte file gives 0 bytes).
 * The file is opened, read and closed on one thread-pool thread.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL loop or
 * path), WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.  The future fails with
 * the system's code, e.g. WEFT_ENOENT or WEFT_EISDIR.
 */
WEFT_API weft_future_t *weft_fs_read_file(weft_loop_t *loop, const char *path);

/**
 * Writes `len` bytes at `data` as the whole content of the file at `path`:
 * created with permission bits `mode` (e.g. 0644, masked by the umask) if it
 * does not exist, truncated if it does.  `data` and `path` are copied; the
 * caller keeps them.  The future's result is the number of bytes written
 * (WEFT_VALUE_INT64, == len).
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL loop or
 * path, NULL data with len > 0, mode outside 0..07777), WEFT_ETHREAD,
 * WEFT_ECLOSED, WEFT_ENOMEM.  The future fails with the system's code.
 */
WEFT_API weft_future_t *weft_fs_write_file(weft_loop_t *loop, const char *path,
                                           const void *data, size_t len, int mode);

/* ---- open files ------------------------------------------------------------ */

/**
 * Opens `path` (copied) with `flags` (enum weft_fs_flags; READ or WRITE or
 * both must be set) and, when a file is created, permission bits `mode`.
 * The future's result is a weft_file_t * (WEFT_VALUE_PTR): the future owns
 * one reference and drops it when freed, so the pointer read with
 * weft_future_result_ptr is borrowed; take weft_file_ref to keep the file
 * after dropping the future.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL loop or
 * path, neither READ nor WRITE, unknown flag bits, mode outside 0..07777),
 * WEFT_ETHREAD, WEFT_ECLOSED, WEFT_ENOMEM.  The future fails with the
 * system's code (WEFT_ENOENT, WEFT_EEXIST, WEFT_EACCES, ...).
 */
WEFT_API weft_future_t *weft_fs_open(weft_loop_t *loop, const char *path, unsigned flags,
                                     int mode);

/**
 * Reads up to `max` bytes at byte `offset` (-1: at the file's current
 * position, which then advances).  The future's result is the bytes read
 * (WEFT_VALUE_BYTES): fewer than `max` near the end, 0 bytes at the end.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL file,
 * offset below -1), WEFT_ETHREAD, WEFT_ECLOSED (the loop is closed),
 * WEFT_EOBJCLOSED (weft_file_close was called), WEFT_ENOMEM (also for a
 * `max` too large to allocate).  The future fails with the system's code
 * (WEFT_EBADF for a file opened without READ).
 */
WEFT_API weft_future_t *weft_file_read(weft_file_t *file, int64_t offset, size_t max);

/**
 * Writes the `len` bytes at `data` (copied; the caller keeps them) at byte
 * `offset` (-1: at the current position; with WEFT_FS_APPEND: at the end),
 * repeating short writes until all are written.  The future's result is
 * `len` (WEFT_VALUE_INT64).
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL file,
 * NULL data with len > 0, offset below -1), WEFT_ETHREAD, WEFT_ECLOSED,
 * WEFT_EOBJCLOSED, WEFT_ENOMEM.  The future fails with the system's code
 * (WEFT_EBADF for a file opened without WRITE, WEFT_ENOSPC, ...).
 */
WEFT_API weft_future_t *weft_file_write(weft_file_t *file, int64_t offset, const void *data,
                                        size_t len);

/**
 * Closes the file: later reads and writes are refused (WEFT_EOBJCLOSED);
 * reads and writes already in flight finish first, then the descriptor is
 * closed.  The future completes (no value) when it is, or fails with the
 * close's error; cancelling it does not stop the close.
 * Returns a new future owned by the caller.  Owner thread.
 * Errors (NULL returned, weft_last_error() set): WEFT_EINVAL (NULL),
 * WEFT_ETHREAD, WEFT_ECLOSED (the loop closed the file already),
 * WEFT_EOBJCLOSED (closed before), WEFT_ENOMEM.
 */
WEFT_API weft_future_t *weft_file_close(weft_file_t *file);

/** Adds a reference.  Any thread.  Returns `file` (NULL for NULL). */
WEFT_API weft_file_t *weft_file_ref(weft_file_t *file);

/**
 * Drops a reference.  Any thread.  NULL is ignored.  The last reference to a
 * file that is still open closes its descriptor (on the loop's thread, or
 * at once when the loop is closed).
 */
WEFT_API void weft_file_unref(weft_file_t *file);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_FS_H */
