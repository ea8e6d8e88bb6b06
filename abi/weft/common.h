/*
 * weft/common.h: export macro, version, error codes and the handle types.
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Define WEFT_API empty before including weft.h (cpp -P -DWEFT_API=) to get
 * plain declarations for FFI parsers (cffi, LuaJIT, bindgen). */
#ifdef WEFT_API
/* provided by the includer */
#elif defined(_WIN32) && defined(WEFT_BUILDING_SHARED)
#define WEFT_API __declspec(dllexport)
#elif defined(_WIN32) && defined(WEFT_USING_SHARED)
#define WEFT_API __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/** Version of the headers this code was compiled against. */
enum weft_version_parts {
  WEFT_VERSION_MAJOR = 0,
  WEFT_VERSION_MINOR = 1,
  WEFT_VERSION_PATCH = 0,
  /** (major << 16) | (minor << 8) | patch, comparable with weft_version(). */
  WEFT_VERSION_HEX = (0 << 16) | (1 << 8) | 0
};

/**
 * The version of the library that is loaded, as WEFT_VERSION_HEX encodes it.
 * Compare it with WEFT_VERSION_HEX to detect a header/library mismatch.
 * Any thread. Never fails.
 */
WEFT_API unsigned weft_version(void);

/** The loaded library's version as "MAJOR.MINOR.PATCH" (static storage). Any thread. */
WEFT_API const char *weft_version_string(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Every weft function that can fail returns an int: 0 (or a documented
 * non-negative value) for success, a negative code for failure.  System
 * errors are -errno with libuv's values (so a code from a libuv call passes
 * through unchanged); getaddrinfo errors keep libuv's -3000 range; weft's
 * own codes live in the -5000 range.  The values of the system codes below
 * are Linux's; the library checks them against libuv at build time.
 *
 * WEFT_ERRNO_MAP(XX) is the single table: XX(name, value, message).  It
 * generates enum weft_errno, weft_strerror() and weft_err_name().
 */
#define WEFT_ERRNO_MAP(XX) \
  XX(E2BIG, -7, "argument list too long") \
  XX(EACCES, -13, "permission denied") \
  XX(EADDRINUSE, -98, "address already in use") \
  XX(EADDRNOTAVAIL, -99, "address not available") \
  XX(EAFNOSUPPORT, -97, "address family not supported") \
  XX(EAGAIN, -11, "resource temporarily unavailable") \
  XX(EAI_ADDRFAMILY, -3000, "address family not supported") \
  XX(EAI_AGAIN, -3001, "temporary failure") \
  XX(EAI_BADFLAGS, -3002, "bad ai_flags value") \
  XX(EAI_BADHINTS, -3013, "invalid value for hints") \
  XX(EAI_CANCELED, -3003, "request canceled") \
  XX(EAI_FAIL, -3004, "permanent failure") \
  XX(EAI_FAMILY, -3005, "ai_family not supported") \
  XX(EAI_MEMORY, -3006, "out of memory") \
  XX(EAI_NODATA, -3007, "no address") \
  XX(EAI_NONAME, -3008, "unknown node or service") \
  XX(EAI_OVERFLOW, -3009, "argument buffer overflow") \
  XX(EAI_PROTOCOL, -3014, "resolved protocol is unknown") \
  XX(EAI_SERVICE, -3010, "service not available for socket type") \
  XX(EAI_SOCKTYPE, -3011, "socket type not supported") \
  XX(EALREADY, -114, "connection already in progress") \
  XX(EBADF, -9, "bad file descriptor") \
  XX(EBUSY, -16, "resource busy or locked") \
  XX(ECANCELED, -125, "operation canceled") \
  XX(ECHARSET, -4080, "invalid Unicode character") \
  XX(ECONNABORTED, -103, "software caused connection abort") \
  XX(ECONNREFUSED, -111, "connection refused") \
  XX(ECONNRESET, -104, "connection reset by peer") \
  XX(EDESTADDRREQ, -89, "destination address required") \
  XX(EEXIST, -17, "file already exists") \
  XX(EFAULT, -14, "bad address in system call argument") \
  XX(EFBIG, -27, "file too large") \
  XX(EHOSTUNREACH, -113, "host is unreachable") \
  XX(EINTR, -4, "interrupted system call") \
  XX(EINVAL, -22, "invalid argument") \
  XX(EIO, -5, "i/o error") \
  XX(EISCONN, -106, "socket is already connected") \
  XX(EISDIR, -21, "illegal operation on a directory") \
  XX(ELOOP, -40, "too many symbolic links encountered") \
  XX(EMFILE, -24, "too many open files") \
  XX(EMSGSIZE, -90, "message too long") \
  XX(ENAMETOOLONG, -36, "name too long") \
  XX(ENETDOWN, -100, "network is down") \
  XX(ENETUNREACH, -101, "network is unreachable") \
  XX(ENFILE, -23, "file table overflow") \
  XX(ENOBUFS, -105, "no buffer space available") \
  XX(ENODEV, -19, "no such device") \
  XX(ENOENT, -2, "no such file or directory") \
  XX(ENOMEM, -12, "not enough memory") \
  XX(ENONET, -64, "machine is not on the network") \
  XX(ENOPROTOOPT, -92, "protocol not available") \
  XX(ENOSPC, -28, "no space left on device") \
  XX(ENOSYS, -38, "function not implemented") \
  XX(ENOTCONN, -107, "socket is not connected") \
  XX(ENOTDIR, -20, "not a directory") \
  XX(ENOTEMPTY, -39, "directory not empty") \
  XX(ENOTSOCK, -88, "socket operation on non-socket") \
  XX(ENOTSUP, -95, "operation not supported on socket") \
  XX(EOVERFLOW, -75, "value too large for defined data type") \
  XX(EPERM, -1, "operation not permitted") \
  XX(EPIPE, -32, "broken pipe") \
  XX(EPROTO, -71, "protocol error") \
  XX(EPROTONOSUPPORT, -93, "protocol not supported") \
  XX(EPROTOTYPE, -91, "protocol wrong type for socket") \
  XX(ERANGE, -34, "result too large") \
  XX(EROFS, -30, "read-only file system") \
  XX(ESHUTDOWN, -108, "cannot send after transport endpoint shutdown") \
  XX(ESPIPE, -29, "invalid seek") \
  XX(ESRCH, -3, "no such process") \
  XX(ETIMEDOUT, -110, "connection timed out") \
  XX(ETXTBSY, -26, "text file is busy") \
  XX(EXDEV, -18, "cross-device link not permitted") \
  XX(UNKNOWN, -4094, "unknown error") \
  XX(EOF, -4095, "end of file") \
  XX(ENXIO, -6, "no such device or address") \
  XX(EMLINK, -31, "too many links") \
  XX(EHOSTDOWN, -112, "host is down") \
  XX(EREMOTEIO, -121, "remote I/O error") \
  XX(ENOTTY, -25, "inappropriate ioctl for device") \
  XX(EFTYPE, -4028, "inappropriate file type or format") \
  XX(EILSEQ, -84, "illegal byte sequence") \
  XX(ESOCKTNOSUPPORT, -94, "socket type not supported") \
  XX(EPENDING, -5001, "future is not done yet") \
  XX(ESTATE, -5002, "invalid state for this operation") \
  XX(ECLOSED, -5003, "loop is closed") \
  XX(ETHREAD, -5004, "called from a thread that does not own the loop") \
  XX(ERUNNING, -5005, "loop is already running") \
  XX(ETYPE, -5006, "result holds a value of another type") \
  XX(EAWAITSELF, -5007, "a task cannot await itself") \
  XX(EOTHERLOOP, -5008, "object belongs to another loop") \
  XX(ESTOPPED, -5009, "loop stopped before the future was done") \
  XX(EDEADLOCK, -5010, "no work is left that could complete the future") \
  XX(EUNHANDLED, -5011, "task or callback failed without an error code") \
  XX(EGROUP, -5012, "unhandled errors in a task group") \
  XX(EINCOMPLETE, -5020, "end of file before the requested bytes arrived") \
  XX(ELIMIT, -5021, "line or chunk longer than the stream's limit") \
  XX(EOBJCLOSED, -5023, "the file, socket or watcher was closed") \
  XX(EQUEUESHUTDOWN, -5015, "queue is shut down") \
  XX(EQUEUEEMPTY, -5016, "queue is empty") \
  XX(EQUEUEFULL, -5017, "queue is full") \
  XX(EBROKENBARRIER, -5018, "barrier is broken (aborted, or reset while waiting)") \
  XX(EEXHAUSTED, -5030, "the iterator has no items left")

/** Every error code weft returns, as negative values. WEFT_OK is 0. */
enum weft_errno {
  WEFT_OK = 0,
#define WEFT__ERRNO_ENUM(name, value, msg) WEFT_##name = value,
  WEFT_ERRNO_MAP(WEFT__ERRNO_ENUM)
#undef WEFT__ERRNO_ENUM
  WEFT_ERRNO_MIN_ = -5999 /* lower bound of weft's own range; not an error */
};

/**
 * A short English description of `code` (static storage, never NULL).
 * 0 gives "success"; an unknown code gives "unknown error". Any thread.
 */
WEFT_API const char *weft_strerror(int code);

/**
 * The symbolic name of `code` without the WEFT_ prefix, e.g. "ECANCELED"
 * (static storage, never NULL). 0 gives "OK"; an unknown code "UNKNOWN".
 * Any thread.
 */
WEFT_API const char *weft_err_name(int code);

/**
 * The code of the last failure of a weft function *on this thread* that
 * returns a handle (NULL on failure) rather than an int.  Functions that
 * succeed do not reset it.  Any thread (the value is per thread).
 */
WEFT_API int weft_last_error(void);

/* ------------------------------------------------------------------ */
/* Handle types (opaque) and shared callback types                     */
/* ------------------------------------------------------------------ */

/** An event loop. One per thread; see weft/loop.h. */
typedef struct weft_loop weft_loop_t;
/** A future: a value that will be set once. See weft/future.h. */
typedef struct weft_future weft_future_t;
/** A task: a future driven by a step function. See weft/task.h. */
typedef struct weft_task weft_task_t;
/** A scheduled callback (call_soon / call_later / call_at), cancellable. */
typedef struct weft_handle weft_handle_t;

/** libuv's loop type, forward-declared so this header needs no uv.h. */
struct uv_loop_s;

/**
 * Releases a userdata pointer that a registration kept (task userdata,
 * pointer results, repeating hooks).  Called exactly once, on the loop
 * thread (or the thread that dropped the last reference after the loop
 * closed), never while weft holds a lock.
 */
typedef void (*weft_release_fn)(void *userdata);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_COMMON_H */
