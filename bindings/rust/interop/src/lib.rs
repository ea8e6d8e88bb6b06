//! Cross-language tests of the Rust binding (see `tests/interop.rs`): C step
//! functions from `c/steps.c`, compiled by `build.rs`.
use weft_sys::{weft_loop_t, weft_task_t};

extern "C" {
    /// A C task that sleeps `delay` seconds and returns `2 * value`; on a
    /// cancellation it sets `*cleaned` and propagates it.
    pub fn interop_spawn_doubler(lp: *mut weft_loop_t, value: i64, delay: f64, cleaned: *mut i32) -> *mut weft_task_t;
    /// A C task that awaits `other` (cancelling it first if `cancel_it`),
    /// stores the await's status in `*status_out` and returns its int64 + 1.
    pub fn interop_spawn_awaiter(
        lp: *mut weft_loop_t,
        other: *mut weft_task_t,
        cancel_it: i32,
        status_out: *mut i64,
    ) -> *mut weft_task_t;
}
