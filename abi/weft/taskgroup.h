/*
 * weft/taskgroup.h: task groups, structured concurrency (asyncio.TaskGroup).
 *
 * Part of the public weft ABI; include <weft.h>, not this file.
 *
 * A group belongs to a parent task.  The parent's step opens it
 * (weft_taskgroup_enter), anyone on the loop spawns children into it, and
 * the parent closes it with weft_taskgroup_exit, which waits until every
 * child is done (the `__aexit__`):
 *
 *   async with asyncio.TaskGroup() as tg:          f->tg = weft_taskgroup_enter(task);
 *       tg.create_task(fetch(1))                    weft_taskgroup_spawn(f->tg, NULL, "fetch",
 *                                                                        fetch, arg, NULL);
 *       await something()                           WEFT_AWAIT(rc, f->something);
 *                                                   WEFT_TASKGROUP_EXIT(rc, f->tg);
 *                                                   weft_taskgroup_unref(f->tg);
 *
 * The rules are CPython's (3.12, with the later fixes of taskgroups.py):
 *
 *   - The first child that fails (an error, not a cancellation) aborts the
 *     group: every child that is not done is cancelled, and so is the
 *     parent (weft_task_cancel, counted), so the body's current await ends
 *     with WEFT_ECANCELED and the body goes to its exit.  The group then
 *     fails with WEFT_EGROUP, an error group holding every real error: each
 *     failed child's, in the order they failed, then the body's own if it
 *     ended with an error.  Cancelled children are not errors.  Read the
 *     errors with weft_taskgroup_error_count/_code/_message/_task.  At the
 *     exit the group withdraws the parent cancellation it made
 *     (weft_task_uncancel), so the parent is not left cancelled.
 *   - A cancellation of the parent from outside (while the body runs, or
 *     while the exit waits) aborts the group too: the children are
 *     cancelled, the exit waits for them and returns WEFT_ECANCELED (a plain
 *     cancel, not an error group), unless children failed meanwhile: errors
 *     take priority, and the exit returns WEFT_EGROUP with the parent's
 *     outside cancellation still requested (withdrawn and re-requested, so
 *     its count stays the same and the parent's next await is cancelled).
 *   - The body failing on its own (the status passed to the exit is an
 *     error) aborts the group; that error becomes the last entry of the
 *     error group.
 *   - weft_taskgroup_cancel aborts the group from inside (Python 3.15's
 *     TaskGroup.cancel): children and body are cancelled and the exit
 *     returns 0 (no errors) instead of WEFT_ECANCELED.
 *   - Spawning is refused (WEFT_ESTATE) once the group is aborting, and once
 *     it is finished (the exit found no child left).  While the exit waits,
 *     children may still spawn siblings into a group that is not aborting.
 *
 * Lifetime: weft_taskgroup_enter returns one reference owned by the caller;
 * exit does not drop it, so the error group can be read after the exit.  The
 * group holds a reference to its parent task for as long as it exists, and
 * to each child until the child is done (then to each failed child, for
 * weft_taskgroup_error_task).  A parent task that finishes without calling
 * the exit (a step returned from the middle of the body) aborts the group:
 * its children are cancelled, and the failures of children that still fail
 * afterwards are reported to the loop's exception handler, as asyncio does
 * for a child that fails after its parent is done.
 *
 * Threads: ref/unref from any thread; everything else on the loop's owner
 * thread (WEFT_ETHREAD otherwise).
 */
#ifndef WEFT_TASKGROUP_H
#define WEFT_TASKGROUP_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A task group (asyncio.TaskGroup).  Opaque, reference-counted. */
typedef struct weft_taskgroup weft_taskgroup_t;

/** Where a group is in its life. */
enum weft_taskgroup_state {
  WEFT_TASKGROUP_ACTIVE = 0,  /**< entered; the body runs */
  WEFT_TASKGROUP_EXITING = 1, /**< the exit waits for the children */
  WEFT_TASKGROUP_DONE = 2     /**< the exit returned (or the parent finished without it) */
};

/**
 * Opens a group whose parent is `parent` (asyncio TaskGroup.__aenter__).
 * Must be called by `parent`'s own step while it runs.
 * Returns one reference owned by the caller, or NULL with weft_last_error()
 * set to WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ESTATE (`parent` is not the
 * task whose step is running), WEFT_ECLOSED or WEFT_ENOMEM.  Owner thread.
 */
WEFT_API weft_taskgroup_t *weft_taskgroup_enter(weft_task_t *parent);

/**
 * Spawns a child into the group (asyncio TaskGroup.create_task): as
 * weft_task_spawn(loop, name, step, userdata, release) on the parent's loop.
 * If `task_out` is not NULL it receives a new reference to the child
 * (drop it with weft_task_unref); the group keeps its own until the child
 * is done.  Any task or callback of the loop may spawn.
 * Errors (no task; `release` is not called): WEFT_EINVAL (NULL group or
 * step), WEFT_ETHREAD, WEFT_ESTATE (the group is aborting, or finished),
 * WEFT_ECLOSED, WEFT_ENOMEM.  Owner thread.
 */
WEFT_API int weft_taskgroup_spawn(weft_taskgroup_t *group, weft_task_t **task_out,
                                  const char *name, weft_step_fn step, void *userdata,
                                  weft_release_fn release);

/**
 * As weft_taskgroup_spawn, with weft_task_spawn_frame's inline frame:
 * stores the zeroed frame of `frame_size` bytes in `*frame` (not NULL) for
 * the caller to fill before the first step.  Errors as
 * weft_taskgroup_spawn, plus WEFT_EINVAL for a NULL `frame` or a
 * `frame_size` over 1 MiB.  Owner thread.
 */
WEFT_API int weft_taskgroup_spawn_frame(weft_taskgroup_t *group, weft_task_t **task_out,
                                        const char *name, weft_step_fn step, size_t frame_size,
                                        void **frame);

/**
 * The group's exit (asyncio TaskGroup.__aexit__), called by the parent's
 * step, in a loop until it stops returning WEFT_STEP_SUSPEND:
 *
 *   - The first call passes the body's outcome as `status`: 0, an error
 *     code (the body failed: the group aborts) or WEFT_ECANCELED.
 *   - While children are not done, the parent is made to await the group
 *     and WEFT_STEP_SUSPEND is returned: return it from the step, and when
 *     the step runs again call weft_taskgroup_exit again with
 *     weft_task_resume_status(parent) as `status` (WEFT_TASKGROUP_EXIT does
 *     this).  A cancellation of the parent meanwhile aborts the group (if it
 *     came from outside) and the exit keeps waiting for the children.
 *   - Once every child is done, returns the group's outcome (see the top of
 *     this file): 0, WEFT_ECANCELED, or WEFT_EGROUP; the group is then
 *     WEFT_TASKGROUP_DONE.
 *
 * Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD, WEFT_ESTATE (the group is done,
 * the caller is not the parent's step, or the parent is still suspended in
 * this exit).  Owner thread.
 */
WEFT_API int weft_taskgroup_exit(weft_taskgroup_t *group, int status);

/**
 * Aborts the group from inside (Python 3.15's TaskGroup.cancel): cancels
 * every child that is not done and the parent's body, and makes the exit
 * return 0 instead of WEFT_ECANCELED (errors of children still make it
 * WEFT_EGROUP).  Does nothing once the group is aborting, done, or exiting
 * with no child left.  Returns 0.  Errors: WEFT_EINVAL (NULL), WEFT_ETHREAD.
 * Owner thread.
 */
WEFT_API int weft_taskgroup_cancel(weft_taskgroup_t *group);

/** enum weft_taskgroup_state of the group, or WEFT_EINVAL for NULL.  Owner thread. */
WEFT_API int weft_taskgroup_state(const weft_taskgroup_t *group);

/**
 * 1 if the group is aborting (a child failed, the parent was cancelled,
 * the body failed, or weft_taskgroup_cancel was called), else 0.
 * WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int weft_taskgroup_aborting(const weft_taskgroup_t *group);

/**
 * The number of children that are not finished yet (a child counts until
 * its done callbacks run).  WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int weft_taskgroup_size(const weft_taskgroup_t *group);

/**
 * The number of errors collected so far (the entries of the error group
 * once the exit returned WEFT_EGROUP; cancellations are never counted).
 * Every child's failure has its entry (spawning reserves it, and fails with
 * WEFT_ENOMEM if it cannot); only the body's own error of a group that never
 * spawned may find no memory for one: the exit still returns WEFT_EGROUP
 * and that error goes to the loop's exception handler instead.
 * WEFT_EINVAL for NULL.  Owner thread.
 */
WEFT_API int weft_taskgroup_error_count(const weft_taskgroup_t *group);

/**
 * The error code of entry `index` (0-based, in the order the errors
 * happened; the body's own error, if any, comes last).  Returns the code
 * (negative), or WEFT_EINVAL for NULL or an `index` out of range, which a
 * caller tells apart by checking the index against the count.  Owner thread.
 */
WEFT_API int weft_taskgroup_error_code(const weft_taskgroup_t *group, size_t index);

/**
 * The message of entry `index` (borrowed, valid while you hold the group),
 * or NULL if it has none (a body error has none), or for NULL or an
 * `index` out of range.  Owner thread.
 */
WEFT_API const char *weft_taskgroup_error_message(const weft_taskgroup_t *group, size_t index);

/**
 * The child that failed for entry `index` (borrowed, valid while you hold
 * the group), or NULL for the body's own error, NULL or an `index` out of
 * range.  Owner thread.
 */
WEFT_API weft_task_t *weft_taskgroup_error_task(const weft_taskgroup_t *group, size_t index);

/**
 * A one-line summary of the error group once the exit returned
 * WEFT_EGROUP, e.g. "unhandled errors in a task group (2 sub-exceptions):
 * EIO: disk failed; EPIPE", to pass on as the parent's failure message
 * (WEFT_CORO_FAIL(rc, weft_taskgroup_message(g))).  Borrowed, valid while
 * you hold the group; NULL before that, for a group that did not fail, or
 * for NULL.  Owner thread.
 */
WEFT_API const char *weft_taskgroup_message(const weft_taskgroup_t *group);

/**
 * Writes a description like asyncio's repr, e.g. "<TaskGroup tasks=2
 * errors=1 cancelling>" or "<TaskGroup entered>", into `buf`
 * (NUL-terminated, truncated to `size`).  The last word is "cancelling"
 * while aborting and not done, else "entered", "exiting" or "finished".
 * Returns the length the full text needs (like snprintf), or WEFT_EINVAL
 * (NULL group, or NULL buf with size > 0).  Owner thread.
 */
WEFT_API int weft_taskgroup_describe(const weft_taskgroup_t *group, char *buf, size_t size);

/** Adds a reference.  Any thread.  Returns `group` (NULL for NULL). */
WEFT_API weft_taskgroup_t *weft_taskgroup_ref(weft_taskgroup_t *group);

/** Drops a reference.  Any thread.  NULL is ignored.  Never aborts the group. */
WEFT_API void weft_taskgroup_unref(weft_taskgroup_t *group);

/*
 * Coroutine form of the exit (inside a WEFT_CORO_BEGIN body of
 * <weft/coro.h>; it uses its task and only wraps weft_taskgroup_exit):
 *
 *   WEFT_TASKGROUP_EXIT(rc, f->tg);   // rc in: the body's status; out: 0,
 *                                     // WEFT_ECANCELED or WEFT_EGROUP
 *
 * Like every await, at most one per source line, and not inside a switch.
 */
#define WEFT_TASKGROUP_EXIT(rc, group)                                                   \
  do {                                                                                   \
    *weft_coro_line_p_ = __LINE__;                                                       \
    (rc) = weft_taskgroup_exit((group), (rc));                                           \
    if (0) {                                                                             \
    case __LINE__:                                                                       \
      (rc) = weft_taskgroup_exit((group), weft_task_resume_status(weft_coro_task_));     \
    }                                                                                    \
    if ((rc) == WEFT_STEP_SUSPEND)                                                       \
      return WEFT_STEP_SUSPEND;                                                          \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TASKGROUP_H */
