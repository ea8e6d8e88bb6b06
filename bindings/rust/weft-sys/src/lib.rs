//! Raw bindings to libweft, asyncio for C on libuv.
//!
//! `ffi.rs` is generated from `abi/weft.h` by Debian's `bindgen` CLI (see
//! `generate.sh`, whose `--check` mode the test command runs) and committed,
//! so building this crate needs neither bindgen nor libclang.  Every function
//! is `unsafe` and follows the C documentation in `abi/weft/*.h`: opaque,
//! reference-counted handles, `0` or a negative `weft_errno` code, callbacks
//! as `(fn, userdata)`.  The safe API is the `weft` crate.
//!
//! Named C enums are modules of constants:
//! `weft_errno::WEFT_ECANCELED`, `weft_future_state::WEFT_FUTURE_PENDING`, ...
//!
//! The build script links `libweft` through `pkg-config` (see `build.rs`), and
//! tells crates that depend on this one where the headers are
//! (`DEP_WEFT_INCLUDE`) and where the library is (`DEP_WEFT_LIB_DIR`), so
//! that they can compile C code against weft too.
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]
#![allow(clippy::all)]

#[rustfmt::skip]
mod ffi;
pub use ffi::*;
