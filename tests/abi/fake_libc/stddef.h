/* Minimal stand-in for cpp -nostdinc runs (what FFI consumers feed cdef). */
typedef unsigned long size_t;
