/*
 * weft-internal.h: the object layouts and internal calls shared by the files of impl/.
 * Never installed.
 */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "weft.h"

/* Free lists hide use-after-free from AddressSanitizer unless what they hold
 * is poisoned while it waits. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define WEFT__POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define WEFT__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define WEFT__POISON(p, n) ((void)(p), (void)(n))
#define WEFT__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define WEFT__CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- ready queue ------------------------------------------------------- */

/*
 * Anything the loop runs later is an intrusive node: a future dispatching its
 * done callbacks, a task's step, a scheduled callback, a cross-thread
 * operation.  The same node travels through the thread-safe queue first when
 * it comes from another thread.
 */
typedef struct weft__node weft__node;
typedef void (*weft__node_fn)(weft__node *node, weft_loop_t *loop);
struct weft__node {
  weft__node *next;
  weft__node_fn run;
};

/* ---- timers ------------------------------------------------------------- */

/* An entry of the loop's deadline heap (one uv_timer_t serves them all). */
typedef struct weft__timer weft__timer;
typedef void (*weft__timer_fn)(weft__timer *timer, weft_loop_t *loop);
struct weft__timer {
  uint64_t when;      /* loop clock, ns */
  uint32_t seq;       /* FIFO among equal deadlines */
  uint32_t slot : 24; /* heap index + 1; 0 when not in the heap */
  uint32_t kind : 8;  /* enum weft__timer_kind: who expires */
};

/* What a timer belongs to (a byte instead of a function pointer keeps a
 * sleeping task one malloc size class smaller). */
enum weft__timer_kind { WEFT__TIMER_TASK = 1, WEFT__TIMER_SLEEP, WEFT__TIMER_HANDLE };
void weft__task_timer_expire(weft__timer *timer, weft_loop_t *loop);
void weft__sleep_expire(weft__timer *timer, weft_loop_t *loop);
void weft__handle_expire(weft__timer *timer, weft_loop_t *loop);

/* Room in the deadline heap for one more timer: 0 or WEFT_ENOMEM.  Every
 * weft__timer_start is preceded by it, before anything is committed, so
 * that running out of memory is an error the caller returns. */
int weft__timer_reserve(weft_loop_t *loop);
void weft__timer_start(weft_loop_t *loop, weft__timer *timer, uint64_t when);
void weft__timer_stop(weft_loop_t *loop, weft__timer *timer);
void weft__timers_expire(weft_loop_t *loop);
void weft__timers_arm(weft_loop_t *loop);
uint64_t weft__delay_to_when(weft_loop_t *loop, double delay);
uint64_t weft__time_to_when(weft_loop_t *loop, double when);

/* ---- futures ------------------------------------------------------------ */

typedef struct weft__cb weft__cb;
struct weft__cb {
  weft_future_fn fn;
  void *userdata;
  weft__cb *next;
};

/* The first callback, inline in the future. */
typedef struct weft__cb0 {
  weft_future_fn fn;
  void *userdata;
} weft__cb0;

/* What a future is (`kind`): set at creation, never changed, so that any
 * thread may read it while the owner changes `flags`. */
enum {
  WEFT__K_TASK = 1 << 0, /* is a struct weft_task */
  WEFT__K_SLEEP = 1 << 1 /* is weft_sleep's: f.timer is its deadline */
};

enum {
  WEFT__F_UNOBSERVED = 1 << 1, /* failed and nobody read the error yet */
  WEFT__F_CB_SCHEDULED = 1 << 2,
  WEFT__F_MEMREF = 1 << 4,    /* survived close: holds the loop's memory, off the list */
  WEFT__F_EXT = 1 << 5        /* carries a combinator's attachment: weft__ext_fini on free */
};

/*
 * References are biased towards the loop's thread (Choi et al., "Biased
 * reference counting", PACT 2018).  The owner counts in `lrefs` with plain
 * arithmetic.  Other threads count in `srefs` atomically, in steps of
 * WEFT__SREF_ONE; their count may go negative while the owner's covers it.
 * The first time it does, that thread sets WEFT__SREF_QUEUED and queues the
 * future on its loop (`mlink`), and the owner merges: it adds `lrefs` into
 * `srefs` and sets WEFT__SREF_MERGED (also when `lrefs` runs out by itself).
 * From then on every thread counts in `srefs`; whoever leaves it at exactly
 * WEFT__SREF_MERGED dropped the last reference.  A queued future is never
 * freed before the owner has taken it off the queue.
 */
enum { WEFT__SREF_MERGED = 1, WEFT__SREF_QUEUED = 2, WEFT__SREF_ONE = 4 };

struct weft_future {
  weft__node node;           /* callback dispatch; a task's step */
  weft_loop_t *loop;
  uint32_t lrefs;            /* the owner thread's references */
  atomic_int srefs;          /* other threads' references, see above */
  uint8_t state;             /* enum weft_future_state */
  uint8_t vtype;             /* enum weft_value_type */
  uint8_t flags;             /* WEFT__F_*: the owner thread's */
  uint8_t merged;            /* the owner's copy of WEFT__SREF_MERGED */
  uint8_t sclass;            /* slab size class; 0: malloc'd */
  uint8_t kind;              /* WEFT__K_*: fixed at creation */
  /* What is stored depends on the state, so the outcome shares its memory
   * with what only a pending future needs: settling vacates that first
   * (weft__future_vacate). */
  union {
    struct {
      union {
        int64_t i;
        double d;
        void *p;                 /* bytes, ptr; a pending task's `awaited` */
        int code;                /* ERROR */
      } v;
      union {
        size_t len;              /* bytes */
        weft_release_fn release; /* ptr */
        char *msg;               /* ERROR, CANCELLED: the message, or NULL */
      } aux;
    };
    /* A pending sleep's deadline, or a sleeping task's. */
    weft__timer timer;
  };
  weft__cb0 cb0;             /* the first callback, or the list (future.c) */
  weft_future_t *prev, *next; /* the loop's live list */
  weft_future_t *mlink;      /* the loop's merge queue (WEFT__SREF_QUEUED) */
};

void weft__future_init(weft_future_t *f, weft_loop_t *loop, uint8_t kind);
/* The message of a failed or cancelled future, else NULL. */
static inline const char *weft__future_msg(const weft_future_t *f) {
  return f->state == WEFT_FUTURE_ERROR || f->state == WEFT_FUTURE_CANCELLED ? f->aux.msg : NULL;
}
/* The owner's write of `state`: atomic (relaxed, a plain store on x86)
 * because weft_future_state() may read it from any thread. */
static inline void weft__future_state_set(weft_future_t *f, int state) {
  __atomic_store_n(&f->state, (uint8_t)state, __ATOMIC_RELAXED);
}

void weft__future_merge(weft_future_t *f, bool owner);
void weft__future_merge_all(weft_loop_t *loop);
/* Sets the count to `n` owner references (no other thread may hold one). */
static inline void weft__future_refs_reset(weft_future_t *f, uint32_t n) {
  f->lrefs = n;
  f->merged = 0;
  atomic_store_explicit(&f->srefs, 0, memory_order_relaxed);
}
int weft__future_settle(weft_future_t *f, int state, int vtype, int64_t i, double d, void *p,
                        size_t len, weft_release_fn release, const char *msg);
int weft__future_cancel_plain(weft_future_t *f, const char *msg);
int weft__future_outcome(weft_future_t *f); /* marks observed */
/* Adds a callback (the first one of a pending future goes in its inline
 * slot, here; a list or a done future's deferred run, out of line). */
int weft__future_add_cb_slow(weft_future_t *f, weft_future_fn fn, void *userdata);
static inline int weft__future_add_cb(weft_future_t *f, weft_future_fn fn, void *userdata) {
  if (f->state != WEFT_FUTURE_PENDING || f->cb0.fn != NULL)
    return weft__future_add_cb_slow(f, fn, userdata);
  f->cb0.fn = fn;
  f->cb0.userdata = userdata;
  return 0;
}
int weft__future_remove_cb(weft_future_t *f, weft_future_fn fn, void *userdata);
void weft__future_free(weft_future_t *f);
bool weft__future_recycle(weft_future_t *f);
void weft__future_dying(weft_future_t *f);
void weft__future_report_unobserved(weft_future_t *f);
/* Releases what a WEFT__F_EXT future carries (combinators.c); called once,
 * by weft__future_free, before the memory goes.  Any thread after close. */
void weft__ext_fini(weft_future_t *f);
int weft__future_describe(const weft_future_t *f, char *buf, size_t size);
/* For queue.c (implemented there): takes a pointer result back from a done
 * future, which then holds NULL and releases nothing. */
void *weft__future_take_ptr(weft_future_t *f);

/* ---- tasks -------------------------------------------------------------- */

enum weft__wait {
  WEFT__WAIT_NONE = 0, /* scheduled, running, or waiting for a wake */
  WEFT__WAIT_FUTURE,
  WEFT__WAIT_SLEEP
};

enum {
  WEFT__T_SCHEDULED = 1 << 0,
  WEFT__T_RUNNING = 1 << 1,
  WEFT__T_WOKEN = 1 << 2,     /* woken while its step was running */
  WEFT__T_MUST_CANCEL = 1 << 3,
  WEFT__T_STARTED = 1 << 4,
  WEFT__T_YIELD = 1 << 5,     /* step asked to run again next round */
  WEFT__T_UD = 1 << 6,        /* a weft__task_ud follows the struct */
  WEFT__T_VIA_AWAIT = 1 << 8, /* `awaited` is what the step resumes from */
  WEFT__T_NOTED = 1 << 9,     /* has an entry in the loop's notes (task.c) */
  WEFT__T_FRAME16 = 1 << 10,  /* the frame (no ud) starts at WEFT__TASK_HEAD16 */
  WEFT__T_CANCELLING = 1 << 11 /* forwarding a cancel request to `awaited` */
};

/* A task's memory: the struct, then (at WEFT__TASK_HEAD) a weft__task_ud
 * (WEFT__T_UD: a userdata and its release; for a frame with a release, the
 * userdata is the frame), then the frame if there is one, aligned for an
 * object of its size.  While the task is pending, f.v.p is `awaited` (the
 * future of the last await, referenced; weft__task_awaited) and f.timer
 * the sleep of weft_task_sleep, never both.  A name and a cancel message,
 * rare, live in the loop's notes (WEFT__T_NOTED). */
struct weft_task {
  weft_future_t f;
  weft_step_fn step;
  uint32_t id;
  int32_t cancel_requests;
  int32_t resume_status;
  uint16_t tflags;
  uint8_t wait;              /* enum weft__wait */
  atomic_uchar remote_wake;  /* a cross-thread wake is queued */
};

/* The future a pending task last awaited (referenced), or NULL. */
static inline weft_future_t *weft__task_awaited(const weft_task_t *t) {
  return t->f.state == WEFT_FUTURE_PENDING && t->wait != WEFT__WAIT_SLEEP ? t->f.v.p : NULL;
}

/* Whether a pending future keeps something where its outcome goes: a sleep
 * future's timer, a task's timer or awaited future. */
static inline bool weft__future_occupied(const weft_future_t *f) {
  return (f->kind & WEFT__K_SLEEP) ||
         ((f->kind & WEFT__K_TASK) &&
          (((const weft_task_t *)f)->wait != WEFT__WAIT_NONE || f->v.p != NULL));
}

/* A task stops waiting and lets go of its awaited future (task.c). */
void weft__task_unwait(weft_task_t *t);

/* Before a pending future settles: what shares the memory of the outcome
 * about to be written leaves it (a timer the heap, a task its wait). */
static inline void weft__future_vacate(weft_future_t *f) {
  if (!weft__future_occupied(f))
    return;
  if (f->kind & WEFT__K_TASK)
    weft__task_unwait((weft_task_t *)f);
  else
    weft__timer_stop(f->loop, &f->timer);
}

typedef struct weft__task_ud {
  void *userdata;
  weft_release_fn release; /* NULL once run */
} weft__task_ud;

enum {
  WEFT__TASK_HEAD = (sizeof(struct weft_task) + 7) & ~(size_t)7,
  WEFT__TASK_HEAD16 = (sizeof(struct weft_task) + 15) & ~(size_t)15
};

/* What the step receives: the frame, or the spawner's userdata. */
static inline void *weft__task_userdata(const weft_task_t *t) {
  char *tail = (char *)t + WEFT__TASK_HEAD;
  if (t->tflags & WEFT__T_UD)
    return ((weft__task_ud *)tail)->userdata;
  return (char *)t + ((t->tflags & WEFT__T_FRAME16) ? WEFT__TASK_HEAD16 : WEFT__TASK_HEAD);
}

int weft__task_cancel_request(weft_task_t *t, const char *msg);
void weft__task_notes_free(weft_loop_t *loop);
/* For sync.c and queue.c (implemented in sync.c): whether `t` will resume
 * from its await of the done future `f` with WEFT_ECANCELED (a cancel
 * request came after `f` completed), so a wake-up given through `f` must
 * be taken back. */
bool weft__task_resumes_cancelled(const weft_task_t *t, const weft_future_t *f);
/* For sync.c (implemented there): a task spawned with work already begun
 * (a Condition.wait released the lock) runs its first step even if it is
 * cancelled before it (resume status WEFT_ECANCELED), to undo that work. */
void weft__task_mark_started(weft_task_t *t);
/* For weft__future_free: whether a task has anything of its own to free
 * (an awaited future, if freed pending after close; notes), and that. */
static inline bool weft__task_has_fields(const weft_task_t *t) {
  return t->f.state == WEFT_FUTURE_PENDING || (t->tflags & WEFT__T_NOTED);
}
void weft__task_free_fields(weft_task_t *t);
int weft__task_describe(weft_task_t *t, char *buf, size_t size);
const char *weft__task_wait_text(weft_task_t *t, char *buf, size_t size);

/* ---- scheduled callbacks ---------------------------------------------- */

struct weft_handle {
  weft__node node;
  weft__timer timer;
  weft_loop_t *loop;
  atomic_uint refs;
  uint8_t cancelled;
  uint8_t done;
  uint8_t timed;
  weft_callback_fn fn;
  void *userdata;
  double scheduled_at;
};

void weft__handle_close_all(weft_loop_t *loop);

/* ---- resources ---------------------------------------------------------- */

/*
 * Anything that owns libuv handles or requests outside weft's own (a stream,
 * a server, a process, a signal watcher) links a resource into its loop.
 * weft_loop_close unlinks each one and calls its close: fail the pending
 * operations, uv_close the handles.  A handle whose close callback has not
 * run yet is counted with weft__loop_uv_closing / weft__loop_uv_closed; the
 * close round runs libuv until the count is back to zero, so those callbacks
 * run while the loop is still usable.
 */
typedef struct weft__resource weft__resource;
struct weft__resource {
  weft__resource *prev, *next;
  void (*close)(weft__resource *res, weft_loop_t *loop);
};
void weft__resource_link(weft_loop_t *loop, weft__resource *res);
void weft__resource_unlink(weft_loop_t *loop, weft__resource *res);
void weft__loop_uv_closing(weft_loop_t *loop);
void weft__loop_uv_closed(weft_loop_t *loop);

/* ---- memory ------------------------------------------------------------ */

/* Size classes of 16 bytes up to 1 KiB (slab.c); bigger blocks are malloc'd. */
enum { WEFT__SLAB_STEP = 16, WEFT__SLAB_CLASSES = 1024 / 16 + 1 };
typedef struct weft__slab {
  void *free[WEFT__SLAB_CLASSES]; /* LIFO free list per class */
  char *cur, *end;                /* what is left of the chunk being carved */
  struct weft__chunk *chunks;
  uint32_t nchunks, empty;        /* chunks mapped; those with no live block */
} weft__slab;
/* The header of each 2 MiB chunk the blocks are carved from (slab.c). */
enum { WEFT__CHUNK = 2u << 20 };
typedef struct weft__chunk {
  struct weft__chunk *next;
  uint32_t live; /* blocks handed out and not freed */
} weft__chunk;
static inline weft__chunk *weft__chunk_of(void *p) {
  return (weft__chunk *)((uintptr_t)p & ~(uintptr_t)(WEFT__CHUNK - 1));
}
/* Owner thread.  *sclass receives what weft__slab_free needs.  A block off
 * a free list, inline; carving, a new chunk or malloc, out of line. */
void *weft__slab_alloc_slow(weft_loop_t *loop, size_t size, uint8_t *sclass);
void weft__slab_free_slow(weft_loop_t *loop, void *p, uint8_t sclass);
static inline void *weft__slab_alloc(weft_loop_t *loop, size_t size, uint8_t *sclass);
static inline void weft__slab_free(weft_loop_t *loop, void *p, uint8_t sclass);
/* Owner thread, when the loop is about to wait: returns free chunks. */
void weft__slab_trim(weft_loop_t *loop);
void weft__slab_destroy(weft__slab *s);

/* ---- the loop ----------------------------------------------------------- */

struct weft_loop {
  atomic_uint refs;          /* the user's references (weft_loop_ref) */
  atomic_uint mem_refs;      /* what keeps the memory: objects + 1 for the user side */
  const char *owner;         /* &weft__tls_self of the loop's thread */
  uv_loop_t *uv;
  uv_loop_t uv_own;
  bool adopted;
  bool virtual_time;         /* WEFT_LOOP_VIRTUAL_TIME: see vclock.c */
  bool uv_open;              /* uv_own initialised and not yet closed */
  atomic_bool running;       /* weft_loop_is_running: any thread */
  bool closing;
  atomic_int closed;
  atomic_int stop;

  /* ready queue */
  weft__node *rq_head;
  weft__node *rq_tail;
  uv_idle_t idle;            /* active while the ready queue is not empty */
  bool idle_active;
  uv_check_t check;          /* drains the ready queue after the poll */
  uv_prepare_t prepare;      /* iteration hook */
  uv_timer_t uvtimer;
  uv_async_t async;
  int handles_open;

  /* timers */
  weft__timer **heap;
  uint32_t heap_len, heap_cap;
  uint32_t timer_seq;
  uint64_t armed_when;
  uint64_t now;              /* cached clock, ns */
  uint64_t vnow;             /* the virtual clock, ns (virtual_time only) */

  /* thread-safe queue */
  uv_mutex_t tsq_lock;
  weft__node *tsq_head, *tsq_tail;
  weft_future_t *merge_head;    /* futures to merge (biased counts), LIFO */
  atomic_int tsq_pending;
  atomic_int holds;
  bool async_refd;

  /* objects */
  weft_future_t *live_head, *live_tail;
  weft__resource *res_head;
  int uv_closing;            /* resource handles whose close callback is due */
  uint32_t next_task_id;
  /* Task names and cancel messages (task.c): few tasks have either, so
   * they live here instead of in every task.  Locked: a task may be freed
   * on any thread once the loop is closed. */
  uv_mutex_t notes_lock;
  struct weft__note *notes;  /* open addressing on the task's address */
  uint32_t notes_cap, notes_len;
  weft_task_t *current;
  weft_future_t *until;
  struct weft__executor *executor; /* executor.c's state, NULL until used */
  uint64_t work_wait_ns;     /* close's wait for running pool jobs; 0: default */

  /* free lists (owner thread only) */
  weft__cb *free_cbs;
  weft_handle_t *free_handles;
  weft__slab slab;              /* futures and tasks */

  weft_exception_fn exc_fn;
  void *exc_ud;
  weft_release_fn exc_release;
  weft_hook_fn hook_fn;
  void *hook_ud;
  weft_release_fn hook_release;
};

/* One byte per thread whose address names the thread: cheaper than
 * pthread_self() on every reference count (initial-exec: no
 * __tls_get_addr call; one byte fits glibc's surplus for dlopen). */
extern _Thread_local char weft__tls_self __attribute__((tls_model("initial-exec")));

static inline bool weft__on_loop(const weft_loop_t *loop) {
  return loop->owner == &weft__tls_self;
}

static inline bool weft__is_closed(const weft_loop_t *loop) {
  return atomic_load_explicit(&((weft_loop_t *)loop)->closed, memory_order_acquire) != 0;
}

static inline size_t weft__slab_class(size_t size) {
  return (size + WEFT__SLAB_STEP - 1) / WEFT__SLAB_STEP;
}

static inline void *weft__slab_alloc(weft_loop_t *loop, size_t size, uint8_t *sclass) {
  size_t c = weft__slab_class(size);
  weft__slab *s = &loop->slab;
  void *p;
  if (c >= WEFT__SLAB_CLASSES || (p = s->free[c]) == NULL)
    return weft__slab_alloc_slow(loop, size, sclass);
  WEFT__UNPOISON(p, c * WEFT__SLAB_STEP);
  s->free[c] = *(void **)p;
  if (weft__chunk_of(p)->live++ == 0)
    s->empty--;
  *sclass = (uint8_t)c;
  return p;
}

static inline void weft__slab_free(weft_loop_t *loop, void *p, uint8_t sclass) {
  /* after close other threads free survivors: the memory goes with the loop */
  if (sclass == 0 || !weft__on_loop(loop) || weft__is_closed(loop)) {
    weft__slab_free_slow(loop, p, sclass);
    return;
  }
  weft__slab *s = &loop->slab;
  *(void **)p = s->free[sclass];
  s->free[sclass] = p;
  WEFT__POISON(p, (size_t)sclass * WEFT__SLAB_STEP);
  if (--weft__chunk_of(p)->live == 0)
    s->empty++;
}

/* The guard of the loop-thread calls: 0, WEFT_EINVAL (NULL), WEFT_ETHREAD or
 * WEFT_ECLOSED, in that order. */
static inline int weft__loop_guard(weft_loop_t *loop) {
  if (loop == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(loop))
    return WEFT_ETHREAD;
  if (weft__is_closed(loop))
    return WEFT_ECLOSED;
  return 0;
}

/* weft_future_ref of a non-NULL future, inline for the hot paths. */
static inline void weft__future_ref_inline(weft_future_t *f) {
  if (weft__on_loop(f->loop) && !f->merged)
    f->lrefs++;
  else
    atomic_fetch_add_explicit(&f->srefs, WEFT__SREF_ONE, memory_order_relaxed);
}

void weft__loop_keep_polling(weft_loop_t *loop);
/* Queues `node` at the ready queue's tail (owner thread). */
static inline void weft__rq_push(weft_loop_t *loop, weft__node *node) {
  node->next = NULL;
  if (loop->rq_tail != NULL)
    loop->rq_tail->next = node;
  else
    loop->rq_head = node;
  loop->rq_tail = node;
  if (!loop->idle_active)
    weft__loop_keep_polling(loop);
}
void weft__kick(weft_loop_t *loop);
void weft__rq_drain_all(weft_loop_t *loop, size_t limit);
int weft__tsq_post(weft_loop_t *loop, weft__node *node);
void weft__tsq_post_merge(weft_loop_t *loop, weft_future_t *f);
/* What the thread-safe queue held: taken under tsq_lock, applied after. */
typedef struct weft__tsq_batch {
  weft__node *nodes;
  weft_future_t *merges;
} weft__tsq_batch;
void weft__tsq_take(weft_loop_t *loop, weft__tsq_batch *batch);
void weft__tsq_apply(weft_loop_t *loop, weft__tsq_batch *batch);
void weft__tsq_move(weft_loop_t *loop);
void weft__sync_holds(weft_loop_t *loop);
void weft__loop_report(weft_loop_t *loop, int code, const char *message, weft_future_t *f);
void weft__loop_free(weft_loop_t *loop);
weft_loop_t *weft__loop_hold_mem(weft_loop_t *loop);
void weft__loop_drop_mem(weft_loop_t *loop);
weft__cb *weft__cb_alloc(weft_loop_t *loop);
void weft__cb_free(weft_loop_t *loop, weft__cb *cb);

/* ---- the clock --------------------------------------------------------- */

/* A fresh reading of the loop's clock, ns: the monotonic clock, or under
 * WEFT_LOOP_VIRTUAL_TIME the virtual one, which only vclock.c moves. */
static inline uint64_t weft__clock(const weft_loop_t *loop) {
  return loop->virtual_time ? loop->vnow : uv_hrtime();
}

/* Virtual time: called before each drain; jumps to the next deadline when
 * the loop is idle (see vclock.c). */
void weft__vclock_idle(weft_loop_t *loop);

/* ---- errors and small utilities --------------------------------------- */

void weft__set_last_error(int code);
char *weft__strdup(const char *s);

/* Guard helpers for handle-returning calls. */
#define WEFT__FAIL_NULL(code)    \
  do {                           \
    weft__set_last_error(code);  \
    return NULL;                 \
  } while (0)

#endif /* WEFT_INTERNAL_H */
