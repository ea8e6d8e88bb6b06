#!/usr/bin/env python3
"""Consumer test: load libweft with ctypes (what dlopen-based bindings do).

usage: ctypes_consumer.py /path/to/libweft.so.0
Prints "weft ctypes consumer: ok" and exits 0 on success.
"""
import ctypes
import sys

from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int, c_uint, c_void_p

WEFT_ECANCELED = -125
WEFT_ECLOSED = -5003
WEFT_RUN_DEFAULT = 0

callback_fn = CFUNCTYPE(None, c_void_p, c_int, c_void_p)  # weft_callback_fn


def declare(lib):
    sig = {
        "weft_version": (c_uint, []),
        "weft_version_string": (c_char_p, []),
        "weft_strerror": (c_char_p, [c_int]),
        "weft_err_name": (c_char_p, [c_int]),
        "weft_last_error": (c_int, []),
        "weft_loop_new": (c_void_p, [c_uint]),
        "weft_loop_call_soon": (c_int, [c_void_p, POINTER(c_void_p), callback_fn, c_void_p]),
        "weft_loop_run": (c_int, [c_void_p, c_int]),
        "weft_loop_close": (c_int, [c_void_p]),
        "weft_loop_is_closed": (c_int, [c_void_p]),
        "weft_loop_unref": (None, [c_void_p]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    lib = ctypes.CDLL(sys.argv[1])
    declare(lib)

    check(lib.weft_version_string() == b"0.1.0",
          "weft_version_string() = %r" % lib.weft_version_string())
    check(lib.weft_version() == (0 << 16) | (1 << 8) | 0, "weft_version() = %#x" % lib.weft_version())
    check(lib.weft_strerror(WEFT_ECANCELED) == b"operation canceled",
          "weft_strerror(-125) = %r" % lib.weft_strerror(WEFT_ECANCELED))
    check(lib.weft_err_name(WEFT_ECLOSED) == b"ECLOSED",
          "weft_err_name(-5003) = %r" % lib.weft_err_name(WEFT_ECLOSED))

    loop = lib.weft_loop_new(0)
    check(bool(loop), "weft_loop_new: %s" % lib.weft_err_name(lib.weft_last_error()))

    calls = []

    def on_soon(cb_loop, status, userdata):
        calls.append((cb_loop, status, userdata))

    cb = callback_fn(on_soon)  # keep the trampoline alive while the loop may call it
    rc = lib.weft_loop_call_soon(loop, None, cb, c_void_p(1234))
    check(rc == 0, "weft_loop_call_soon = %d (%s)" % (rc, lib.weft_err_name(rc)))
    check(calls == [], "the callback ran inside weft_loop_call_soon")

    rc = lib.weft_loop_run(loop, WEFT_RUN_DEFAULT)
    check(rc == 0, "weft_loop_run = %d (%s)" % (rc, lib.weft_err_name(rc)))
    check(len(calls) == 1, "callback ran %d times, expected once" % len(calls))
    check(calls[0][0] == loop and calls[0][1] == 0 and calls[0][2] == 1234,
          "callback arguments %r" % (calls[0],))

    rc = lib.weft_loop_close(loop)
    check(rc == 0, "weft_loop_close = %d (%s)" % (rc, lib.weft_err_name(rc)))
    check(lib.weft_loop_is_closed(loop) == 1, "loop not closed after weft_loop_close")
    check(len(calls) == 1, "callback ran again during close")
    lib.weft_loop_unref(loop)
    del cb

    print("weft ctypes consumer: ok (%s)" % lib.weft_version_string().decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
