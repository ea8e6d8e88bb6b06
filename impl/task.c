/*
 * task.c: stackless tasks (asyncio's Task.__step / __wakeup), sleep, and
 * weft_run (asyncio.run).
 *
 * A task is one allocation: its future, its timer, its bookkeeping and
 * (optionally) its coroutine frame.  While it is pending the loop holds one
 * reference.  Its step is queued on the ready queue through the future's
 * node (free while the task is pending: done callbacks are dispatched only
 * after the last step).  A done callback on the awaited future runs the
 * next step directly, as __wakeup calls __step.  What only a pending task
 * needs (the awaited future, the sleep's timer) lives where its outcome
 * will go, and what few tasks have (a name, a cancel message) in the loop's
 * notes: a task with an 8-byte frame fits a 128-byte block.
 */
#include "weft-internal.h"

#include <math.h>
#include <stdio.h>

enum { WEFT__FRAME_MAX = 1 << 20 };
_Static_assert(sizeof(void *) != 8 || sizeof(weft_task_t) == 120,
               "a task and an 8-byte frame fill a 128-byte slab block");

static void weft__task_run(weft_task_t *t, int status);

/* ---- notes: names and cancel messages --------------------------------------- */

/* A task's entry in its loop's notes (linear probing on the address). */
typedef struct weft__note {
  const weft_task_t *task; /* NULL: a free slot */
  char *name;              /* set, or made up by weft_task_name */
  char *cmsg;              /* the latest cancel request's message */
} weft__note;

static size_t weft__note_home(const weft_task_t *t, uint32_t cap) {
  return (size_t)(((uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15u) >> 32) & (cap - 1);
}

/* notes_lock held, as below. */
static weft__note *weft__note_find(weft_loop_t *loop, const weft_task_t *t) {
  if (loop->notes_cap == 0)
    return NULL;
  for (size_t i = weft__note_home(t, loop->notes_cap);; i = (i + 1) & (loop->notes_cap - 1)) {
    if (loop->notes[i].task == t)
      return &loop->notes[i];
    if (loop->notes[i].task == NULL)
      return NULL;
  }
}

static void weft__note_put(weft__note *notes, uint32_t cap, weft__note note) {
  size_t i = weft__note_home(note.task, cap);
  while (notes[i].task != NULL)
    i = (i + 1) & (cap - 1);
  notes[i] = note;
}

/* Empties a slot, moving later entries of its run back (no tombstones). */
static void weft__note_remove(weft_loop_t *loop, weft__note *slot) {
  size_t mask = loop->notes_cap - 1, i = (size_t)(slot - loop->notes);
  for (size_t j = (i + 1) & mask; loop->notes[j].task != NULL; j = (j + 1) & mask) {
    size_t home = weft__note_home(loop->notes[j].task, loop->notes_cap);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      loop->notes[i] = loop->notes[j];
      i = j;
    }
  }
  loop->notes[i] = (weft__note){NULL, NULL, NULL};
  loop->notes_len--;
}

/* Room for one more entry (at most half full): 0 or WEFT_ENOMEM.  Owner
 * thread, before weft__task_note_set, which then cannot fail. */
static int weft__notes_reserve(weft_loop_t *loop) {
  int rc = 0;
  uv_mutex_lock(&loop->notes_lock);
  if ((loop->notes_len + 1) * 2 > loop->notes_cap) {
    uint32_t cap = loop->notes_cap ? loop->notes_cap * 2 : 16;
    weft__note *notes = calloc(cap, sizeof *notes);
    if (notes == NULL) {
      rc = WEFT_ENOMEM;
    } else {
      for (uint32_t i = 0; i < loop->notes_cap; i++)
        if (loop->notes[i].task != NULL)
          weft__note_put(notes, cap, loop->notes[i]);
      free(loop->notes);
      loop->notes = notes;
      loop->notes_cap = cap;
    }
  }
  uv_mutex_unlock(&loop->notes_lock);
  return rc;
}

/* A note of `t` (`field`: the offset of name or cmsg), or NULL. */
static const char *weft__task_note(const weft_task_t *t, size_t field) {
  if (!(t->tflags & WEFT__T_NOTED))
    return NULL;
  weft_loop_t *loop = t->f.loop;
  uv_mutex_lock(&loop->notes_lock);
  weft__note *n = weft__note_find(loop, t);
  const char *text = n != NULL ? *(char **)((char *)n + field) : NULL;
  uv_mutex_unlock(&loop->notes_lock);
  return text;
}

/* Replaces a note of `t` with `text` (taken; NULL removes it).  Owner
 * thread, after weft__notes_reserve. */
static void weft__task_note_set(weft_task_t *t, size_t field, char *text) {
  weft_loop_t *loop = t->f.loop;
  uv_mutex_lock(&loop->notes_lock);
  weft__note *n = weft__note_find(loop, t);
  if (n == NULL && text != NULL) {
    weft__note_put(loop->notes, loop->notes_cap, (weft__note){t, NULL, NULL});
    loop->notes_len++;
    n = weft__note_find(loop, t);
    t->tflags |= WEFT__T_NOTED;
  }
  if (n != NULL) {
    char **slot = (char **)((char *)n + field);
    free(*slot);
    *slot = text;
    if (n->name == NULL && n->cmsg == NULL) {
      weft__note_remove(loop, n);
      t->tflags &= (uint16_t)~WEFT__T_NOTED;
    }
  }
  uv_mutex_unlock(&loop->notes_lock);
}

/* The task is being freed (any thread once the loop is closed). */
static void weft__task_note_drop(weft_task_t *t) {
  weft_loop_t *loop = t->f.loop;
  uv_mutex_lock(&loop->notes_lock);
  weft__note *n = weft__note_find(loop, t);
  if (n != NULL) {
    free(n->name);
    free(n->cmsg);
    weft__note_remove(loop, n);
  }
  uv_mutex_unlock(&loop->notes_lock);
}

void weft__task_notes_free(weft_loop_t *loop) {
  /* every task is gone by now, and took its entry with it */
  free(loop->notes);
}

/* ---- scheduling ------------------------------------------------------------ */

static void weft__step_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft_task_t *t = (weft_task_t *)node;
  t->tflags &= (uint16_t)~WEFT__T_SCHEDULED;
  weft__task_run(t, t->resume_status);
}

static void weft__task_schedule(weft_task_t *t, int status) {
  if (t->tflags & WEFT__T_SCHEDULED)
    return;
  t->tflags |= WEFT__T_SCHEDULED;
  t->resume_status = status;
  t->f.node.run = weft__step_run;
  weft__rq_push(t->f.loop, &t->f.node);
}

static void weft__task_wakeup(weft_future_t *fut, void *userdata) {
  weft_task_t *t = userdata;
  if (t->wait != WEFT__WAIT_FUTURE || t->f.v.p != fut) /* waiting: v.p is `awaited` */
    return;
  t->wait = WEFT__WAIT_NONE;
  weft__task_run(t, weft__future_outcome(fut));
}

void weft__task_timer_expire(weft__timer *timer, weft_loop_t *loop) {
  (void)loop;
  weft_task_t *t = WEFT__CONTAINER_OF(timer, weft_task_t, f.timer);
  t->wait = WEFT__WAIT_NONE;
  t->f.v.p = NULL; /* was the deadline; the timer's kind byte stays */
  weft__task_schedule(t, 0);
}

/* Forgets what the task waits on (it finished, or was told to stop waiting). */
static void weft__task_drop_wait(weft_task_t *t) {
  if (t->wait == WEFT__WAIT_FUTURE) {
    weft__future_remove_cb(t->f.v.p, weft__task_wakeup, t);
  } else if (t->wait == WEFT__WAIT_SLEEP) {
    weft__timer_stop(t->f.loop, &t->f.timer);
    t->f.v.p = NULL;
  }
  t->wait = WEFT__WAIT_NONE;
}

void weft__task_unwait(weft_task_t *t) {
  weft__task_drop_wait(t);
  weft_future_t *awaited = t->f.v.p;
  t->f.v.p = NULL;
  weft_future_unref(awaited);
}

/* ---- the step --------------------------------------------------------------- */

static void weft__task_finish(weft_task_t *t) {
  if (t->f.state == WEFT_FUTURE_PENDING) /* settling left it so only for want of memory */
    weft__task_unwait(t);
  if (t->tflags & WEFT__T_UD) {
    weft__task_ud *ud = (weft__task_ud *)((char *)t + WEFT__TASK_HEAD);
    weft_release_fn release = ud->release;
    ud->release = NULL;
    if (release != NULL)
      release(ud->userdata);
  }
  weft_future_unref(&t->f); /* the loop's reference: may free the task */
}

static const char *weft__task_cancel_text(weft_task_t *t) {
  weft_future_t *a = (t->tflags & WEFT__T_VIA_AWAIT) ? weft__task_awaited(t) : NULL;
  if (a != NULL && a->state == WEFT_FUTURE_CANCELLED && a->aux.msg != NULL)
    return a->aux.msg;
  return weft__task_note(t, offsetof(weft__note, cmsg));
}

static void weft__task_settle_from(weft_task_t *t, int rc) {
  weft_future_t *f = &t->f;
  if (rc == WEFT_STEP_DONE) {
    weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL, NULL);
  } else if (rc == WEFT_ECANCELED) {
    if (weft__future_settle(f, WEFT_FUTURE_CANCELLED, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL,
                            weft__task_cancel_text(t)) != 0)
      weft__future_settle(f, WEFT_FUTURE_CANCELLED, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL, NULL);
  } else if (rc < 0) {
    weft__future_settle(f, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, rc, 0, NULL, 0, NULL, NULL);
  } else {
    weft__future_settle(f, WEFT_FUTURE_ERROR, WEFT_VALUE_NONE, WEFT_EINVAL, 0, NULL, 0, NULL,
                        "step returned a value that is neither WEFT_STEP_DONE, "
                        "WEFT_STEP_SUSPEND nor an error code");
  }
}

static void weft__task_run(weft_task_t *t, int status) {
  weft_loop_t *loop = t->f.loop;
  if (t->f.state != WEFT_FUTURE_PENDING)
    return;
  if (t->tflags & WEFT__T_MUST_CANCEL) {
    t->tflags &= (uint16_t)~WEFT__T_MUST_CANCEL;
    status = WEFT_ECANCELED;
  }
  t->resume_status = status;
  t->wait = WEFT__WAIT_NONE;
  if (!(t->tflags & WEFT__T_STARTED) && status == WEFT_ECANCELED) {
    /* Cancelled before it started: like a coroutine that never ran. */
    weft__task_settle_from(t, WEFT_ECANCELED);
    weft__task_finish(t);
    return;
  }
  t->tflags |= WEFT__T_STARTED | WEFT__T_RUNNING;
  weft_task_t *prev = loop->current;
  loop->current = t;
  int rc = t->step(t, weft__task_userdata(t));
  loop->current = prev;
  t->tflags &= (uint16_t)~WEFT__T_RUNNING;

  if (t->f.state == WEFT_FUTURE_PENDING && rc == WEFT_STEP_SUSPEND) {
    uint16_t fl = t->tflags;
    t->tflags &= (uint16_t)~(WEFT__T_YIELD | WEFT__T_WOKEN);
    if (t->wait != WEFT__WAIT_FUTURE) /* a sleep or a wake: not from `awaited` */
      t->tflags &= (uint16_t)~WEFT__T_VIA_AWAIT;
    switch (t->wait) {
    case WEFT__WAIT_FUTURE:
      if ((fl & WEFT__T_MUST_CANCEL) &&
          weft_future_cancel(t->f.v.p, weft__task_note(t, offsetof(weft__note, cmsg))) == 1)
        t->tflags &= (uint16_t)~WEFT__T_MUST_CANCEL;
      break;
    case WEFT__WAIT_SLEEP:
      if (fl & WEFT__T_MUST_CANCEL) {
        weft__task_drop_wait(t);
        weft__task_schedule(t, 0);
      }
      break;
    default:
      if (fl & (WEFT__T_YIELD | WEFT__T_WOKEN | WEFT__T_MUST_CANCEL))
        weft__task_schedule(t, 0);
      break;
    }
    return;
  }
  t->tflags &= (uint16_t)~(WEFT__T_YIELD | WEFT__T_WOKEN);
  if (t->f.state == WEFT_FUTURE_PENDING) {
    if (rc == WEFT_STEP_DONE && (t->tflags & WEFT__T_MUST_CANCEL))
      rc = WEFT_ECANCELED; /* cancelled right before it returned, as asyncio */
    weft__task_settle_from(t, rc);
  }
  weft__task_finish(t);
}

/* ---- creating ---------------------------------------------------------------- */

/* memset, without the call for the small frames most tasks have: the frame
 * starts 8-aligned and its block was asked for up to the next multiple of
 * 8, so those bytes are the frame's too. */
static inline void weft__zero_frame(void *frame, size_t size) {
  if (size == 0)
    return;
  if (size <= 8)
    memset(frame, 0, 8);
  else if (size <= 16)
    memset(frame, 0, 16);
  else if (size <= 24)
    memset(frame, 0, 24);
  else if (size <= 32)
    memset(frame, 0, 32);
  else
    memset(frame, 0, size);
}

/* A copy of a spawn's name, with room for it in the notes; NULL with the
 * last error set when there is no memory. */
static __attribute__((noinline)) char *weft__task_name_copy(weft_loop_t *loop, const char *name) {
  char *copy;
  if (weft__notes_reserve(loop) != 0 || (copy = weft__strdup(name)) == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  return copy;
}

/* Inline in each spawn, where the frame and release cases fold away. */
static inline __attribute__((always_inline)) weft_task_t *
weft__task_create(weft_loop_t *loop, const char *name, weft_step_fn step, void *userdata,
                  weft_release_fn release, size_t frame_size, void **frame) {
  int rc = step == NULL ? WEFT_EINVAL : weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  /* the userdata and its release, unless a frame needs neither (callers
   * keep `frame_size` within WEFT__FRAME_MAX) */
  size_t ud = frame == NULL || release != NULL ? sizeof(weft__task_ud) : 0;
  size_t at = WEFT__TASK_HEAD + ud, size = at;
  if (frame != NULL) {
    /* Aligned for any object of its size (C23's rule for malloc): an object
     * needs 16 only if its size is a multiple of 16, else 8 at most. */
    size_t align = (frame_size & 15) == 0 ? 16 : 8;
    at = (at + align - 1) & ~(align - 1);
    size = at + ((frame_size + 7) & ~(size_t)7); /* weft__zero_frame's reach */
  }
  char *copy = NULL;
  if (name != NULL && (copy = weft__task_name_copy(loop, name)) == NULL)
    return NULL;
  uint8_t sclass;
  weft_task_t *t = weft__slab_alloc(loop, size, &sclass);
  if (t == NULL) {
    free(copy);
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  }
  weft__future_init(&t->f, loop, WEFT__K_TASK);
  t->f.sclass = sclass;
  t->f.lrefs = 2; /* the caller's and the loop's */
  t->f.timer.kind = WEFT__TIMER_TASK; /* f.v.p, `awaited`, is NULL */
  t->step = step;
  t->id = loop->next_task_id++;
  t->cancel_requests = 0;
  t->resume_status = 0;
  t->wait = WEFT__WAIT_NONE;
  atomic_init(&t->remote_wake, 0);
  t->tflags = ud > 0 ? WEFT__T_UD : at == WEFT__TASK_HEAD16 ? WEFT__T_FRAME16 : 0;
  if (frame != NULL) {
    weft__zero_frame((char *)t + at, frame_size);
    *frame = (char *)t + at;
    userdata = *frame;
  }
  if (ud > 0)
    *(weft__task_ud *)((char *)t + WEFT__TASK_HEAD) = (weft__task_ud){userdata, release};
  if (copy != NULL)
    weft__task_note_set(t, offsetof(weft__note, name), copy);
  weft__task_schedule(t, 0);
  return t;
}

weft_task_t *weft_task_spawn(weft_loop_t *loop, const char *name, weft_step_fn step,
                             void *userdata, weft_release_fn release) {
  return weft__task_create(loop, name, step, userdata, release, 0, NULL);
}

weft_task_t *weft_task_spawn_frame(weft_loop_t *loop, const char *name, weft_step_fn step,
                                   size_t frame_size, void **frame) {
  return weft_task_spawn_frame_ex(loop, name, step, frame_size, NULL, frame);
}

weft_task_t *weft_task_spawn_frame_ex(weft_loop_t *loop, const char *name, weft_step_fn step,
                                      size_t frame_size, weft_release_fn release,
                                      void **frame) {
  if (frame == NULL || frame_size > WEFT__FRAME_MAX)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return weft__task_create(loop, name, step, NULL, release, frame_size, frame);
}

weft_task_t *weft_task_ref(weft_task_t *task) {
  weft_future_ref(task != NULL ? &task->f : NULL);
  return task;
}

void weft_task_unref(weft_task_t *task) {
  if (task != NULL)
    weft_future_unref(&task->f);
}

void weft__task_free_fields(weft_task_t *t) {
  weft_future_unref(weft__task_awaited(t)); /* freed pending: after close */
  if (t->tflags & WEFT__T_NOTED)
    weft__task_note_drop(t);
}

weft_future_t *weft_task_future(weft_task_t *task) { return task != NULL ? &task->f : NULL; }

weft_task_t *weft_future_task(weft_future_t *future) {
  if (future == NULL || !(future->kind & WEFT__K_TASK))
    return NULL;
  return (weft_task_t *)future;
}

/* ---- inside a step --------------------------------------------------------------- */

static int weft__in_step(const weft_task_t *t) {
  if (t == NULL)
    return WEFT_EINVAL;
  if (!(t->tflags & WEFT__T_RUNNING) || t->f.loop->current != t || !weft__on_loop(t->f.loop))
    return WEFT_ESTATE;
  if (t->wait != WEFT__WAIT_NONE || (t->tflags & WEFT__T_YIELD))
    return WEFT_ESTATE; /* this step already suspended once */
  if (t->f.state != WEFT_FUTURE_PENDING)
    return WEFT_ESTATE; /* set its own outcome: f.v.p and f.timer hold it */
  return 0;
}

int weft_task_await(weft_task_t *task, weft_future_t *future) {
  if (future == NULL)
    return WEFT_EINVAL;
  int rc = weft__in_step(task);
  if (rc != 0)
    return rc;
  if (future == &task->f)
    return WEFT_EAWAITSELF;
  if (future->loop != task->f.loop)
    return WEFT_EOTHERLOOP;
  weft__future_ref_inline(future);
  weft_future_unref(task->f.v.p);
  task->f.v.p = future;
  task->tflags |= WEFT__T_VIA_AWAIT;
  if (future->state != WEFT_FUTURE_PENDING)
    return weft__future_outcome(future);
  rc = weft__future_add_cb(future, weft__task_wakeup, task);
  if (rc != 0)
    return rc;
  task->wait = WEFT__WAIT_FUTURE;
  return WEFT_STEP_SUSPEND;
}

int weft_task_sleep(weft_task_t *task, double delay) {
  int rc = weft__in_step(task);
  if (rc != 0)
    return rc;
  if (isnan(delay))
    return WEFT_EINVAL;
  if (!(delay > 0))
    return weft_task_yield(task);
  weft_loop_t *loop = task->f.loop;
  rc = weft__timer_reserve(loop);
  if (rc != 0)
    return rc;
  weft__task_unwait(task); /* the timer takes the last awaited future's place */
  weft__timer_start(loop, &task->f.timer, weft__delay_to_when(loop, delay));
  task->wait = WEFT__WAIT_SLEEP;
  return WEFT_STEP_SUSPEND;
}

int weft_task_yield(weft_task_t *task) {
  int rc = weft__in_step(task);
  if (rc != 0)
    return rc;
  task->tflags |= WEFT__T_YIELD;
  return WEFT_STEP_SUSPEND;
}

int weft_task_resume_status(weft_task_t *task) {
  if (task == NULL)
    return WEFT_EINVAL;
  return task->resume_status;
}

const char *weft_task_resume_message(weft_task_t *task) {
  if (task == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  if (!weft__on_loop(task->f.loop) && !weft__is_closed(task->f.loop))
    WEFT__FAIL_NULL(WEFT_ETHREAD);
  int rc = task->resume_status;
  if (rc == WEFT_ECANCELED)
    return weft__task_cancel_text(task);
  weft_future_t *a = weft__task_awaited(task);
  if (rc < 0 && a != NULL && a->state == WEFT_FUTURE_ERROR)
    return a->aux.msg;
  return NULL;
}

weft_future_t *weft_task_awaited(weft_task_t *task) {
  return task != NULL ? weft__task_awaited(task) : NULL;
}

/* ---- from outside ------------------------------------------------------------------ */

static int weft__task_wake_local(weft_task_t *t, bool remote) {
  if (t->f.state != WEFT_FUTURE_PENDING)
    return 0;
  if (t->tflags & WEFT__T_RUNNING) {
    t->tflags |= WEFT__T_WOKEN;
    return 0;
  }
  if (t->tflags & WEFT__T_SCHEDULED)
    return 0;
  if (t->wait != WEFT__WAIT_NONE)
    return remote ? 0 : WEFT_ESTATE;
  weft__task_schedule(t, 0);
  return 0;
}

typedef struct weft__remote_wake {
  weft__node node;
  weft_task_t *task;
} weft__remote_wake;

static void weft__remote_wake_run(weft__node *node, weft_loop_t *loop) {
  (void)loop;
  weft__remote_wake *w = (weft__remote_wake *)node;
  atomic_store(&w->task->remote_wake, 0);
  weft__task_wake_local(w->task, true);
  weft_task_unref(w->task);
  free(w);
}

int weft_task_wake(weft_task_t *task) {
  if (task == NULL)
    return WEFT_EINVAL;
  weft_loop_t *loop = task->f.loop;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  if (weft__on_loop(loop))
    return weft__task_wake_local(task, false);
  if (atomic_exchange(&task->remote_wake, 1))
    return 0; /* a wake is already on its way */
  weft__remote_wake *w = malloc(sizeof *w);
  if (w == NULL) {
    atomic_store(&task->remote_wake, 0);
    return WEFT_ENOMEM;
  }
  w->node.run = weft__remote_wake_run;
  w->task = weft_task_ref(task);
  int rc = weft__tsq_post(loop, &w->node);
  if (rc != 0) {
    atomic_store(&task->remote_wake, 0);
    weft_task_unref(task);
    free(w);
  }
  return rc;
}

int weft__task_cancel_request(weft_task_t *t, const char *msg) {
  if (t->f.state != WEFT_FUTURE_PENDING)
    return 0;
  if (t->tflags & WEFT__T_CANCELLING) {
    /* Its own request came back round a cycle of awaits (A awaits B awaits
     * A): forwarding it again would never end, so the task stops waiting
     * and resumes cancelled; the others then see it finish. */
    t->tflags |= WEFT__T_MUST_CANCEL;
    weft__task_drop_wait(t);
    if (!(t->tflags & (WEFT__T_SCHEDULED | WEFT__T_RUNNING)))
      weft__task_schedule(t, 0);
    return 1;
  }
  t->cancel_requests++;
  /* Out of memory keeps the previous message.  What is forwarded is the
   * copy: `msg` may be the message it replaces (weft_task_resume_message). */
  const char *text = msg;
  if (msg == NULL) {
    weft__task_note_set(t, offsetof(weft__note, cmsg), NULL);
  } else if (weft__notes_reserve(t->f.loop) == 0) {
    char *copy = weft__strdup(msg);
    if (copy != NULL) {
      weft__task_note_set(t, offsetof(weft__note, cmsg), copy);
      text = copy;
    }
  }
  if (t->wait == WEFT__WAIT_FUTURE) {
    t->tflags |= WEFT__T_CANCELLING;
    int rc = weft_future_cancel(t->f.v.p, text);
    t->tflags &= (uint16_t)~WEFT__T_CANCELLING;
    if (rc == 1)
      return 1;
  }
  t->tflags |= WEFT__T_MUST_CANCEL;
  if (t->wait == WEFT__WAIT_SLEEP) {
    weft__task_drop_wait(t);
    weft__task_schedule(t, 0);
  } else if (t->wait == WEFT__WAIT_NONE &&
             !(t->tflags & (WEFT__T_SCHEDULED | WEFT__T_RUNNING))) {
    weft__task_schedule(t, 0);
  }
  return 1;
}

int weft_task_cancel(weft_task_t *task, const char *message) {
  return weft_future_cancel(task != NULL ? &task->f : NULL, message);
}

int weft_task_cancelling(const weft_task_t *task) {
  if (task == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(task->f.loop))
    return WEFT_ETHREAD;
  return task->cancel_requests;
}

int weft_task_uncancel(weft_task_t *task) {
  if (task == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(task->f.loop))
    return WEFT_ETHREAD;
  if (task->cancel_requests > 0)
    task->cancel_requests--;
  if (task->cancel_requests == 0)
    task->tflags &= (uint16_t)~WEFT__T_MUST_CANCEL;
  return task->cancel_requests;
}

weft_task_t *weft_loop_current_task(weft_loop_t *loop) {
  return loop != NULL && weft__on_loop(loop) ? loop->current : NULL;
}

/* ---- introspection -------------------------------------------------------------------- */

const char *weft_task_name(weft_task_t *task) {
  if (task == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  if (!weft__on_loop(task->f.loop))
    WEFT__FAIL_NULL(WEFT_ETHREAD);
  const char *name = weft__task_note(task, offsetof(weft__note, name));
  if (name != NULL)
    return name;
  char buf[32], *copy;
  snprintf(buf, sizeof buf, "Task-%u", task->id);
  if (weft__notes_reserve(task->f.loop) != 0 || (copy = weft__strdup(buf)) == NULL)
    return "Task";
  weft__task_note_set(task, offsetof(weft__note, name), copy);
  return copy;
}

int weft_task_set_name(weft_task_t *task, const char *name) {
  if (task == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(task->f.loop))
    return WEFT_ETHREAD;
  char *copy = NULL;
  if (name != NULL && (weft__notes_reserve(task->f.loop) != 0 ||
                       (copy = weft__strdup(name)) == NULL))
    return WEFT_ENOMEM;
  weft__task_note_set(task, offsetof(weft__note, name), copy);
  return 0;
}

weft_future_t *weft_task_awaiting(weft_task_t *task) {
  if (task == NULL || !weft__on_loop(task->f.loop) || task->wait != WEFT__WAIT_FUTURE)
    return NULL;
  return task->f.v.p;
}

const char *weft__task_wait_text(weft_task_t *t, char *buf, size_t size) {
  if (t->wait == WEFT__WAIT_FUTURE) {
    char inner[200];
    weft__future_describe(t->f.v.p, inner, sizeof inner);
    snprintf(buf, size, "awaiting %s", inner);
  } else if (t->wait == WEFT__WAIT_SLEEP) {
    snprintf(buf, size, "sleeping until %.3f", (double)t->f.timer.when / 1e9);
  } else if (t->tflags & WEFT__T_RUNNING) {
    snprintf(buf, size, "running");
  } else if (t->tflags & WEFT__T_SCHEDULED) {
    snprintf(buf, size, "ready");
  } else {
    snprintf(buf, size, "waiting for a wake-up");
  }
  return buf;
}

int weft__task_describe(weft_task_t *t, char *buf, size_t size) {
  const char *name = weft_task_name(t);
  if (t->f.state == WEFT_FUTURE_PENDING) {
    char wait[256];
    return snprintf(buf, size, "<Task '%s' pending %s>", name,
                    weft__task_wait_text(t, wait, sizeof wait));
  }
  weft_future_t plain = t->f; /* describe the outcome as a plain future's */
  plain.kind &= (uint8_t)~WEFT__K_TASK;
  char outcome[200];
  weft__future_describe(&plain, outcome, sizeof outcome);
  return snprintf(buf, size, "<Task '%s' %s", name, outcome + strlen("<Future "));
}

/* ---- sleep and run ------------------------------------------------------------------------- */

void weft__sleep_expire(weft__timer *timer, weft_loop_t *loop) {
  (void)loop;
  weft_future_t *f = WEFT__CONTAINER_OF(timer, weft_future_t, timer);
  weft__future_settle(f, WEFT_FUTURE_RESULT, WEFT_VALUE_NONE, 0, 0, NULL, 0, NULL, NULL);
}

weft_future_t *weft_sleep(weft_loop_t *loop, double delay) {
  int rc = isnan(delay) ? WEFT_EINVAL : weft__loop_guard(loop);
  if (rc == 0)
    rc = weft__timer_reserve(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  uint8_t sclass;
  weft_future_t *f = weft__slab_alloc(loop, sizeof *f, &sclass);
  if (f == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  weft__future_init(f, loop, WEFT__K_SLEEP);
  f->sclass = sclass;
  f->timer.kind = WEFT__TIMER_SLEEP;
  weft__timer_start(loop, &f->timer, weft__delay_to_when(loop, delay));
  return f;
}

int weft_run(weft_task_t **main_out, weft_step_fn step, void *userdata) {
  if (step == NULL)
    return WEFT_EINVAL;
  if (weft_loop_running() != NULL)
    return WEFT_ERUNNING;
  weft_loop_t *loop = weft_loop_new(0);
  if (loop == NULL)
    return weft_last_error();
  weft_task_t *main_task = weft_task_spawn(loop, "main", step, userdata, NULL);
  if (main_task == NULL) {
    int err = weft_last_error();
    weft_loop_close(loop);
    weft_loop_unref(loop);
    return err;
  }
  int rc = weft_loop_run_until(loop, &main_task->f);
  if (rc == WEFT_EDEADLOCK) {
    /* main waits for something that can never come: cancel it, let it clean up */
    weft_task_cancel(main_task, "weft_run: no work left that could wake the main task");
    weft_loop_run_until(loop, &main_task->f);
  }
  int outcome = weft_future_error(&main_task->f);
  if (rc == WEFT_EDEADLOCK && outcome == WEFT_ECANCELED)
    outcome = WEFT_EDEADLOCK;
  else if (outcome == WEFT_EPENDING)
    outcome = rc != 0 ? rc : WEFT_ESTATE;
  weft_loop_close(loop);
  if (main_out != NULL)
    *main_out = main_task;
  else
    weft_task_unref(main_task);
  weft_loop_unref(loop);
  return outcome;
}
