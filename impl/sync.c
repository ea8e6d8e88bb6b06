/*
 * sync.c: Event, Lock, Semaphore, Condition and Barrier (weft/sync.h),
 * after CPython 3.12+'s asyncio/locks.py, plus the object and waiter
 * helpers that queue.c shares (sync-internal.h).
 *
 * asyncio writes each waiting operation as a coroutine: it awaits a waiter
 * future and, when it resumes, commits (Lock sets _locked) or, on
 * CancelledError, rolls back and wakes the next waiter.  Here the operation
 * is the future itself.  Its first done callback runs in the future's
 * dispatch, right before the task awaiting it resumes, so that callback is
 * the coroutine's resume point: it commits, or rolls back when the task
 * will resume cancelled (weft__task_resumes_cancelled).  Condition.wait
 * has to re-acquire the lock even when cancelled, which a plain future
 * cannot wait for, so it runs as a small task.
 */
#include "sync-internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "weft/coro.h"

/* ---- hooks into the core ------------------------------------------------- */

bool weft__task_resumes_cancelled(const weft_task_t *t, const weft_future_t *f) {
  return t != NULL && t->f.state == WEFT_FUTURE_PENDING && t->wait == WEFT__WAIT_FUTURE &&
         t->f.v.p == f && (t->tflags & WEFT__T_MUST_CANCEL) != 0;
}

void weft__task_mark_started(weft_task_t *t) { t->tflags |= WEFT__T_STARTED; }

/* ---- objects ------------------------------------------------------------- */

void *weft__sobj_new(weft_loop_t *loop, size_t size, void (*destroy)(weft__sobj *)) {
  if (loop == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  if (!weft__on_loop(loop))
    WEFT__FAIL_NULL(WEFT_ETHREAD);
  weft__sobj *obj = calloc(1, size);
  if (obj == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  atomic_init(&obj->refs, 1);
  obj->loop = weft__loop_hold_mem(loop);
  obj->destroy = destroy;
  return obj;
}

void weft__sobj_ref(weft__sobj *obj) {
  if (obj != NULL)
    atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
}

void weft__sobj_unref(weft__sobj *obj) {
  if (obj == NULL || atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_loop_t *loop = obj->loop;
  obj->destroy(obj);
  weft__loop_drop_mem(loop);
}

int weft__sobj_check(const weft__sobj *obj) {
  if (obj == NULL)
    return WEFT_EINVAL;
  return weft__on_loop(obj->loop) ? 0 : WEFT_ETHREAD;
}

/* ---- waiters ------------------------------------------------------------- */

void weft__wlist_push(weft__wlist *list, weft__waiter *w) {
  w->next = NULL;
  w->prev = list->tail;
  if (list->tail != NULL)
    list->tail->next = w;
  else
    list->head = w;
  list->tail = w;
  list->n++;
  w->list = list;
}

void weft__wlist_remove(weft__waiter *w) {
  weft__wlist *list = w->list;
  if (list == NULL)
    return;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    list->head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    list->tail = w->prev;
  list->n--;
  w->prev = w->next = NULL;
  w->list = NULL;
}

weft__waiter *weft__wlist_first_pending(const weft__wlist *list) {
  for (weft__waiter *w = list->head; w != NULL; w = w->next)
    if (!weft_future_done(w->fut))
      return w;
  return NULL;
}

bool weft__wlist_any_live(const weft__wlist *list) {
  for (weft__waiter *w = list->head; w != NULL; w = w->next)
    if (!weft_future_cancelled(w->fut))
      return true;
  return false;
}

int weft__waiter_arm(weft__waiter *w, weft__sobj *obj, weft_future_fn done) {
  weft_future_t *f = weft_future_new(obj->loop);
  if (f == NULL)
    return weft_last_error();
  w->prev = w->next = NULL;
  w->list = NULL;
  w->fut = f;
  w->owner = weft_task_ref(obj->loop->current);
  w->obj = obj;
  w->woken = false;
  weft__sobj_ref(obj);
  if (done != NULL)
    (void)weft__future_add_cb(f, done, w); /* the first callback is inline: cannot fail */
  return 0;
}

bool weft__waiter_taken(const weft__waiter *w) {
  return w->woken && !weft__task_resumes_cancelled(w->owner, w->fut);
}

void weft__waiter_free(weft__waiter *w) {
  weft_task_unref(w->owner);
  weft__sobj_unref(w->obj);
  free(w);
}

weft__waiter *weft__waiter_new(weft__sobj *obj, size_t size, weft_future_fn done) {
  weft__waiter *w = calloc(1, size);
  if (w == NULL) {
    weft__set_last_error(WEFT_ENOMEM);
    return NULL;
  }
  int rc = weft__waiter_arm(w, obj, done);
  if (rc != 0) {
    free(w);
    weft__set_last_error(rc);
    return NULL;
  }
  return w;
}

/* Completes a waiter's future with no value, as the primitive. */
static void waiter_wake(weft__waiter *w) {
  w->woken = true;
  (void)weft_future_set_none(w->fut);
}

weft_future_t *weft__future_done_none(weft_loop_t *loop) {
  weft_future_t *f = weft_future_new(loop);
  if (f != NULL)
    (void)weft_future_set_none(f);
  return f;
}

weft_future_t *weft__future_failed(weft_loop_t *loop, int code, const char *msg) {
  weft_future_t *f = weft_future_new(loop);
  if (f != NULL)
    (void)weft_future_set_error(f, code, msg);
  return f;
}

void weft__text_add(weft__text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *at = t->len < t->size ? t->buf + t->len : NULL;
  size_t room = t->len < t->size ? t->size - t->len : 0;
  int n = vsnprintf(at, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    t->len += (size_t)n;
}

int weft__text_end(weft__text *t) {
  return t->len > INT_MAX ? INT_MAX : (int)t->len;
}

/* Starts a describe: checks the arguments. */
static int text_begin(weft__text *t, const weft__sobj *obj, char *buf, size_t size) {
  int rc = weft__sobj_check(obj);
  if (rc != 0)
    return rc;
  if (buf == NULL && size > 0)
    return WEFT_EINVAL;
  *t = (weft__text){buf, size, 0};
  if (size > 0)
    buf[0] = '\0';
  return 0;
}

static void text_waiters(weft__text *t, size_t n) {
  if (n > 0)
    weft__text_add(t, ", waiters:%zu", n);
}

static void free_sobj(weft__sobj *obj) { free(obj); }


/* ---- Event --------------------------------------------------------------- */

struct weft_event {
  weft__sobj obj;
  bool value;
  weft__wlist waiters;
};

weft_event_t *weft_event_new(weft_loop_t *loop) {
  return weft__sobj_new(loop, sizeof(weft_event_t), free_sobj);
}

weft_event_t *weft_event_ref(weft_event_t *event) {
  weft__sobj_ref((weft__sobj *)event);
  return event;
}

void weft_event_unref(weft_event_t *event) { weft__sobj_unref((weft__sobj *)event); }

int weft_event_set(weft_event_t *event) {
  int rc = weft__sobj_check((weft__sobj *)event);
  if (rc != 0)
    return rc;
  if (event->value)
    return 0;
  event->value = true;
  /* The woken stay listed until they resume, as in asyncio. */
  for (weft__waiter *w = event->waiters.head; w != NULL; w = w->next)
    if (!weft_future_done(w->fut))
      waiter_wake(w);
  return 0;
}

int weft_event_clear(weft_event_t *event) {
  int rc = weft__sobj_check((weft__sobj *)event);
  if (rc != 0)
    return rc;
  event->value = false;
  return 0;
}

int weft_event_is_set(const weft_event_t *event) {
  int rc = weft__sobj_check((const weft__sobj *)event);
  return rc != 0 ? rc : event->value;
}

static void event_waiter_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__waiter *w = userdata;
  weft__wlist_remove(w);
  weft__waiter_free(w);
}

weft_future_t *weft_event_wait(weft_event_t *event) {
  int rc = weft__sobj_check((weft__sobj *)event);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (event->value)
    return weft__future_done_none(event->obj.loop);
  weft__waiter *w = weft__waiter_new(&event->obj, sizeof *w, event_waiter_done);
  if (w == NULL)
    return NULL;
  weft__wlist_push(&event->waiters, w);
  return w->fut;
}

int weft_event_describe(const weft_event_t *event, char *buf, size_t size) {
  weft__text t;
  int rc = text_begin(&t, (const weft__sobj *)event, buf, size);
  if (rc != 0)
    return rc;
  weft__text_add(&t, "<Event [%s", event->value ? "set" : "unset");
  text_waiters(&t, event->waiters.n);
  weft__text_add(&t, "]>");
  return weft__text_end(&t);
}

/* ---- Lock ---------------------------------------------------------------- */

struct weft_lock {
  weft__sobj obj;
  bool locked;
  weft__wlist waiters;
};

weft_lock_t *weft_lock_new(weft_loop_t *loop) {
  return weft__sobj_new(loop, sizeof(weft_lock_t), free_sobj);
}

weft_lock_t *weft_lock_ref(weft_lock_t *lock) {
  weft__sobj_ref((weft__sobj *)lock);
  return lock;
}

void weft_lock_unref(weft_lock_t *lock) { weft__sobj_unref((weft__sobj *)lock); }

/* asyncio _wake_up_first: the first waiter not cancelled gets the wake-up,
 * unless it already has it (woken, not resumed yet). */
static void lock_wake_first(weft_lock_t *lock) {
  for (weft__waiter *w = lock->waiters.head; w != NULL; w = w->next) {
    if (weft_future_cancelled(w->fut))
      continue;
    if (!weft_future_done(w->fut))
      waiter_wake(w);
    return;
  }
}

/* The acquire's resume point: take the lock, or pass the wake-up on. */
static void lock_waiter_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__waiter *w = userdata;
  weft_lock_t *lock = (weft_lock_t *)w->obj;
  weft__wlist_remove(w);
  if (weft__waiter_taken(w))
    lock->locked = true;
  else if (!lock->locked)
    lock_wake_first(lock);
  weft__waiter_free(w);
}

weft_future_t *weft_lock_acquire(weft_lock_t *lock) {
  int rc = weft__sobj_check((weft__sobj *)lock);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  /* Fair: wait behind anyone queued; cancelled waiters do not count. */
  if (!lock->locked && !weft__wlist_any_live(&lock->waiters)) {
    weft_future_t *f = weft__future_done_none(lock->obj.loop);
    if (f != NULL)
      lock->locked = true;
    return f;
  }
  weft__waiter *w = weft__waiter_new(&lock->obj, sizeof *w, lock_waiter_done);
  if (w == NULL)
    return NULL;
  weft__wlist_push(&lock->waiters, w);
  return w->fut;
}

int weft_lock_release(weft_lock_t *lock) {
  int rc = weft__sobj_check((weft__sobj *)lock);
  if (rc != 0)
    return rc;
  if (!lock->locked)
    return WEFT_ESTATE;
  lock->locked = false;
  lock_wake_first(lock);
  return 0;
}

int weft_lock_locked(const weft_lock_t *lock) {
  int rc = weft__sobj_check((const weft__sobj *)lock);
  return rc != 0 ? rc : lock->locked;
}

int weft_lock_describe(const weft_lock_t *lock, char *buf, size_t size) {
  weft__text t;
  int rc = text_begin(&t, (const weft__sobj *)lock, buf, size);
  if (rc != 0)
    return rc;
  weft__text_add(&t, "<Lock [%s", lock->locked ? "locked" : "unlocked");
  text_waiters(&t, lock->waiters.n);
  weft__text_add(&t, "]>");
  return weft__text_end(&t);
}

/* ---- Semaphore ----------------------------------------------------------- */

struct weft_semaphore {
  weft__sobj obj;
  int value;
  int bound; /* -1: not bounded */
  weft__wlist waiters;
};

static weft_semaphore_t *semaphore_new(weft_loop_t *loop, int value, bool bounded) {
  if (value < 0)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_semaphore_t *sem = weft__sobj_new(loop, sizeof *sem, free_sobj);
  if (sem == NULL)
    return NULL;
  sem->value = value;
  sem->bound = bounded ? value : -1;
  return sem;
}

weft_semaphore_t *weft_semaphore_new(weft_loop_t *loop, int value) {
  return semaphore_new(loop, value, false);
}

weft_semaphore_t *weft_semaphore_new_bounded(weft_loop_t *loop, int value) {
  return semaphore_new(loop, value, true);
}

weft_semaphore_t *weft_semaphore_ref(weft_semaphore_t *sem) {
  weft__sobj_ref((weft__sobj *)sem);
  return sem;
}

void weft_semaphore_unref(weft_semaphore_t *sem) { weft__sobj_unref((weft__sobj *)sem); }

/* Due to the counter, or FIFO rules (others must go first). */
static bool sem_locked(const weft_semaphore_t *sem) {
  return sem->value == 0 || weft__wlist_any_live(&sem->waiters);
}

/* asyncio _wake_up_next: reserves a unit for the first pending waiter. */
static bool sem_wake_next(weft_semaphore_t *sem) {
  weft__waiter *w = weft__wlist_first_pending(&sem->waiters);
  if (w == NULL)
    return false;
  sem->value--;
  waiter_wake(w);
  return true;
}

/* The acquire's resume point: a woken waiter whose task will not take the
 * unit gives it back; then units still free go to waiters queued behind. */
static void sem_waiter_done(weft_future_t *f, void *userdata) {
  (void)f;
  weft__waiter *w = userdata;
  weft_semaphore_t *sem = (weft_semaphore_t *)w->obj;
  weft__wlist_remove(w);
  if (w->woken && !weft__waiter_taken(w))
    sem->value++;
  while (sem->value > 0 && sem_wake_next(sem)) {
  }
  weft__waiter_free(w);
}

weft_future_t *weft_semaphore_acquire(weft_semaphore_t *sem) {
  int rc = weft__sobj_check((weft__sobj *)sem);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (!sem_locked(sem)) {
    weft_future_t *f = weft__future_done_none(sem->obj.loop);
    if (f != NULL)
      sem->value--;
    return f;
  }
  weft__waiter *w = weft__waiter_new(&sem->obj, sizeof *w, sem_waiter_done);
  if (w == NULL)
    return NULL;
  weft__wlist_push(&sem->waiters, w);
  return w->fut;
}

int weft_semaphore_release(weft_semaphore_t *sem) {
  int rc = weft__sobj_check((weft__sobj *)sem);
  if (rc != 0)
    return rc;
  if ((sem->bound >= 0 && sem->value >= sem->bound) || sem->value == INT_MAX)
    return WEFT_EOVERFLOW;
  sem->value++;
  sem_wake_next(sem);
  return 0;
}

int weft_semaphore_locked(const weft_semaphore_t *sem) {
  int rc = weft__sobj_check((const weft__sobj *)sem);
  return rc != 0 ? rc : sem_locked(sem);
}

int weft_semaphore_value(const weft_semaphore_t *sem) {
  int rc = weft__sobj_check((const weft__sobj *)sem);
  return rc != 0 ? rc : sem->value;
}

int weft_semaphore_describe(const weft_semaphore_t *sem, char *buf, size_t size) {
  weft__text t;
  int rc = text_begin(&t, (const weft__sobj *)sem, buf, size);
  if (rc != 0)
    return rc;
  weft__text_add(&t, "<%s [", sem->bound >= 0 ? "BoundedSemaphore" : "Semaphore");
  if (sem_locked(sem))
    weft__text_add(&t, "locked");
  else
    weft__text_add(&t, "unlocked, value:%d", sem->value);
  text_waiters(&t, sem->waiters.n);
  weft__text_add(&t, "]>");
  return weft__text_end(&t);
}

/* ---- Condition ----------------------------------------------------------- */

struct weft_condition {
  weft__sobj obj;
  weft_lock_t *lock;   /* referenced */
  weft__wlist waiters; /* notify waiters of the pending waits */
};

static void condition_destroy(weft__sobj *obj) {
  weft_condition_t *cond = (weft_condition_t *)obj;
  weft_lock_unref(cond->lock);
  free(cond);
}

weft_condition_t *weft_condition_new(weft_loop_t *loop, weft_lock_t *lock) {
  if (lock != NULL && loop != NULL && lock->obj.loop != loop)
    WEFT__FAIL_NULL(WEFT_EOTHERLOOP);
  lock = lock != NULL ? weft_lock_ref(lock) : weft_lock_new(loop);
  if (lock == NULL)
    return NULL;
  weft_condition_t *cond = weft__sobj_new(loop, sizeof *cond, condition_destroy);
  if (cond == NULL) {
    weft_lock_unref(lock);
    return NULL;
  }
  cond->lock = lock;
  return cond;
}

weft_condition_t *weft_condition_ref(weft_condition_t *cond) {
  weft__sobj_ref((weft__sobj *)cond);
  return cond;
}

void weft_condition_unref(weft_condition_t *cond) { weft__sobj_unref((weft__sobj *)cond); }

weft_lock_t *weft_condition_lock(const weft_condition_t *cond) {
  return cond != NULL ? cond->lock : NULL;
}

weft_future_t *weft_condition_acquire(weft_condition_t *cond) {
  int rc = weft__sobj_check((weft__sobj *)cond);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  return weft_lock_acquire(cond->lock);
}

int weft_condition_release(weft_condition_t *cond) {
  int rc = weft__sobj_check((weft__sobj *)cond);
  return rc != 0 ? rc : weft_lock_release(cond->lock);
}

int weft_condition_locked(const weft_condition_t *cond) {
  int rc = weft__sobj_check((const weft__sobj *)cond);
  return rc != 0 ? rc : weft_lock_locked(cond->lock);
}

/* asyncio Condition._notify: wakes up to n pending waits, oldest first. */
static int cond_notify(weft_condition_t *cond, int n) {
  int woken = 0;
  for (weft__waiter *w = cond->waiters.head; w != NULL && woken < n; w = w->next) {
    if (!weft_future_done(w->fut)) {
      waiter_wake(w);
      woken++;
    }
  }
  return woken;
}

int weft_condition_notify(weft_condition_t *cond, int n) {
  int rc = weft__sobj_check((weft__sobj *)cond);
  if (rc != 0)
    return rc;
  if (!cond->lock->locked)
    return WEFT_ESTATE;
  return cond_notify(cond, n);
}

int weft_condition_notify_all(weft_condition_t *cond) {
  return weft_condition_notify(cond, INT_MAX);
}

/*
 * A wait is a task running asyncio's Condition.wait (or wait_for): it owns
 * a notify waiter (a plain future only it awaits, listed on the condition)
 * and re-acquires the lock however the wait ends.  The state is shared by
 * the task's release function and a done callback on the task's future
 * (which checks, like the other primitives, whether the caller will resume
 * cancelled and then passes the notification on); the later of the two
 * frees it.
 */
typedef struct cond_wait {
  WEFT_CORO_STATE;
  int refs;                 /* release function + done callback */
  weft_condition_t *cond;   /* referenced */
  weft__waiter nw;          /* the notify waiter, listed while nw.fut != NULL */
  weft_future_t *acq;       /* the re-acquire in progress, referenced */
  weft_predicate_fn pred;   /* NULL: a plain wait */
  void *pred_ud;
  weft_release_fn pred_release;
  weft_task_t *owner;       /* referenced: the caller's task */
  int err;
  int64_t value;
} cond_wait;

static int cond_register(cond_wait *cw) {
  weft_condition_t *cond = cw->cond;
  weft_future_t *f = weft_future_new(cond->obj.loop);
  if (f == NULL)
    return weft_last_error();
  cw->nw.fut = f;
  cw->nw.woken = false;
  weft__wlist_push(&cond->waiters, &cw->nw);
  return 0;
}

/* Unlists the notify waiter; returns whether it had been notified. */
static bool cond_unregister(cond_wait *cw) {
  bool notified = cw->nw.woken;
  weft__wlist_remove(&cw->nw);
  weft_future_unref(cw->nw.fut);
  cw->nw.fut = NULL;
  return notified;
}

static void cond_wait_unref(cond_wait *cw) {
  if (--cw->refs > 0)
    return;
  weft_task_unref(cw->owner);
  weft_condition_unref(cw->cond);
  free(cw);
}

/* The task's release function: runs after its last step, or instead of its
 * first one (cancelled before it started: the caller still holds the lock). */
static void cond_wait_release(void *userdata) {
  cond_wait *cw = userdata;
  if (cw->nw.fut != NULL && cond_unregister(cw))
    cond_notify(cw->cond, 1); /* notified but never woke: pass it on */
  weft_future_unref(cw->acq);
  cw->acq = NULL;
  if (cw->pred_release != NULL)
    cw->pred_release(cw->pred_ud);
  cw->pred_release = NULL;
  cond_wait_unref(cw);
}

/* The wait's resume point in the caller: a caller that will resume
 * cancelled does not take the notification, so another waiter gets one. */
static void cond_wait_done(weft_future_t *f, void *userdata) {
  cond_wait *cw = userdata;
  if (weft_future_state(f) == WEFT_FUTURE_RESULT && weft__task_resumes_cancelled(cw->owner, f))
    cond_notify(cw->cond, 1);
  cond_wait_unref(cw);
}

static int cond_wait_step(weft_task_t *task, void *userdata) {
  cond_wait *cw = userdata;
  weft_condition_t *cond = cw->cond;
  int rc;
  WEFT_CORO_BEGIN(task, cw);
  /* A plain wait cancelled before its first step still runs (it released
   * the lock): it skips the notify and re-acquires. */
  cw->err = weft_task_resume_status(task);
  if (cw->pred != NULL) {
    cw->value = cw->pred(cw->pred_ud);
    if (cw->value != 0)
      WEFT_CORO_RETURN_INT64(cw->value);
  }
  for (;;) {
    if (cw->nw.fut == NULL) { /* wait_for: each round is a wait() */
      if (!cond->lock->locked)
        WEFT_CORO_FAIL(WEFT_ESTATE, "cannot wait on an un-acquired lock");
      rc = cond_register(cw);
      if (rc != 0)
        WEFT_CORO_FAIL(rc, NULL);
      (void)weft_lock_release(cond->lock);
    }
    if (cw->err == 0) {
      WEFT_AWAIT(rc, cw->nw.fut);
      cw->err = rc;
    }
    cond_unregister(cw);
    /* Must re-acquire the lock even if the wait was cancelled; a cancel
     * during the re-acquire is remembered and the re-acquire retried. */
    for (;;) {
      cw->acq = weft_lock_acquire(cond->lock);
      if (cw->acq == NULL)
        WEFT_CORO_FAIL(weft_last_error(), "could not re-acquire the lock");
      WEFT_AWAIT(rc, cw->acq);
      weft_future_unref(cw->acq);
      cw->acq = NULL;
      if (rc == 0)
        break;
      cw->err = rc;
      if (cond->obj.loop->closing)
        WEFT_CORO_FAIL(rc, NULL); /* the loop is going away: give up the lock */
    }
    if (cw->err != 0) {
      /* Maybe notified before the error: let another waiter re-check. */
      cond_notify(cond, 1);
      WEFT_CORO_FAIL(cw->err, NULL);
    }
    if (cw->pred == NULL)
      WEFT_CORO_RETURN();
    cw->value = cw->pred(cw->pred_ud);
    if (cw->value != 0)
      WEFT_CORO_RETURN_INT64(cw->value);
  }
  WEFT_CORO_END();
}

static weft_future_t *cond_wait_start(weft_condition_t *cond, weft_predicate_fn pred,
                                      void *pred_ud, weft_release_fn pred_release) {
  int rc = weft__sobj_check((weft__sobj *)cond);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (pred == NULL && !cond->lock->locked)
    WEFT__FAIL_NULL(WEFT_ESTATE);
  cond_wait *cw = calloc(1, sizeof *cw);
  if (cw == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  cw->cond = cond;
  if (pred == NULL && (rc = cond_register(cw)) != 0) { /* a notify from now on counts */
    free(cw);
    WEFT__FAIL_NULL(rc);
  }
  weft_loop_t *loop = cond->obj.loop;
  weft_task_t *t = weft_task_spawn(loop, pred != NULL ? "Condition.wait_for" : "Condition.wait",
                                   cond_wait_step, cw, cond_wait_release);
  if (t == NULL) {
    if (cw->nw.fut != NULL)
      cond_unregister(cw);
    free(cw);
    return NULL; /* weft_last_error() set by the spawn */
  }
  weft_condition_ref(cond);
  cw->refs = 2;
  cw->pred = pred;
  cw->pred_ud = pred_ud;
  cw->pred_release = pred_release;
  cw->owner = weft_task_ref(loop->current);
  /* The first callback of a new task's future is inline: cannot fail. */
  (void)weft_future_add_done_callback(weft_task_future(t), cond_wait_done, cw);
  if (pred == NULL) {
    /* asyncio releases the lock as wait() starts; from now on the task must
     * run even if cancelled first, to take the lock back. */
    (void)weft_lock_release(cond->lock);
    weft__task_mark_started(t);
  }
  return weft_task_future(t);
}

weft_future_t *weft_condition_wait(weft_condition_t *cond) {
  return cond_wait_start(cond, NULL, NULL, NULL);
}

weft_future_t *weft_condition_wait_for(weft_condition_t *cond, weft_predicate_fn predicate,
                                       void *userdata, weft_release_fn release) {
  if (predicate == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  return cond_wait_start(cond, predicate, userdata, release);
}

int weft_condition_describe(const weft_condition_t *cond, char *buf, size_t size) {
  weft__text t;
  int rc = text_begin(&t, (const weft__sobj *)cond, buf, size);
  if (rc != 0)
    return rc;
  weft__text_add(&t, "<Condition [%s", cond->lock->locked ? "locked" : "unlocked");
  text_waiters(&t, cond->waiters.n);
  weft__text_add(&t, "]>");
  return weft__text_end(&t);
}

/* ---- Barrier ------------------------------------------------------------- */

/*
 * asyncio's Barrier waits on a Condition in two places: _block (arrivals
 * while it drains or resets) and _wait (counted parties until it trips).
 * Every notify_all wakes them all and each re-checks its predicate in turn,
 * running its own code before the next one re-checks.  Here: `cond` holds
 * the waits, notify_all moves them to `ready`, and `barrier_process`
 * re-checks the ready ones in order; when one is decided (its future
 * completed) the next is only looked at after that completion has been
 * delivered (a late done callback), so a task released first that resets
 * or aborts the barrier is seen by the ones after it.
 */
enum { BW_BLOCK, BW_WAIT };

typedef struct barrier_waiter {
  weft__waiter w;
  int kind;     /* BW_BLOCK or BW_WAIT */
  bool counted; /* inside: counted in `count` and not decided yet */
  int index;
} barrier_waiter;

struct weft_barrier {
  weft__sobj obj;
  int parties;
  int state; /* enum weft_barrier_state */
  int count; /* parties inside */
  weft__wlist cond;
  weft__wlist ready;
  bool scheduled; /* a barrier_process call is queued */
  bool inflight;  /* a decided wait's completion is being delivered */
};

weft_barrier_t *weft_barrier_new(weft_loop_t *loop, int parties) {
  if (parties < 1)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_barrier_t *b = weft__sobj_new(loop, sizeof *b, free_sobj);
  if (b == NULL)
    return NULL;
  b->parties = parties;
  b->state = WEFT_BARRIER_FILLING;
  return b;
}

weft_barrier_t *weft_barrier_ref(weft_barrier_t *barrier) {
  weft__sobj_ref((weft__sobj *)barrier);
  return barrier;
}

void weft_barrier_unref(weft_barrier_t *barrier) { weft__sobj_unref((weft__sobj *)barrier); }

static void barrier_notify_all(weft_barrier_t *b) {
  while (b->cond.head != NULL) {
    weft__waiter *w = b->cond.head;
    weft__wlist_remove(w);
    weft__wlist_push(&b->ready, w);
  }
}

/* asyncio _exit: a party left. */
static void barrier_exit(weft_barrier_t *b) {
  b->count--;
  if (b->count == 0) {
    if (b->state == WEFT_BARRIER_RESETTING || b->state == WEFT_BARRIER_DRAINING)
      b->state = WEFT_BARRIER_FILLING;
    barrier_notify_all(b);
  }
}

static void barrier_process(weft_barrier_t *b);

static void barrier_process_cb(weft_loop_t *loop, int status, void *userdata) {
  (void)loop;
  (void)status;
  weft_barrier_t *b = userdata;
  b->scheduled = false;
  barrier_process(b);
  weft_barrier_unref(b);
}

/* Makes the ready waits re-check soon (never inside the caller's call). */
static void barrier_kick(weft_barrier_t *b) {
  if (b->ready.head == NULL || b->inflight || b->scheduled)
    return;
  weft_barrier_ref(b);
  if (weft_loop_call_soon(b->obj.loop, NULL, barrier_process_cb, b) == 0)
    b->scheduled = true;
  else
    weft_barrier_unref(b); /* the loop is closed: no wait is pending any more */
}

static void barrier_delivered(weft_future_t *f, void *userdata) {
  (void)f;
  weft_barrier_t *b = userdata;
  b->inflight = false;
  barrier_process(b);
  weft_barrier_unref(b);
}

/* Completes a wait: passed with its index, or broken.  It leaves the barrier
 * now (asyncio's `finally: _exit()` runs before the task's own code). */
static void barrier_decide(weft_barrier_t *b, barrier_waiter *bw, bool pass, const char *msg) {
  weft_future_t *f = bw->w.fut;
  bw->w.woken = true;
  if (pass)
    (void)weft_future_set_int64(f, bw->index);
  else
    (void)weft_future_set_error(f, WEFT_EBROKENBARRIER, msg);
  if (bw->counted) {
    bw->counted = false;
    barrier_exit(b);
  }
  /* Queued behind the completion's delivery: the next re-check waits for it. */
  weft_barrier_ref(b);
  if (weft_future_add_done_callback(f, barrier_delivered, b) == 0)
    b->inflight = true;
  else
    weft_barrier_unref(b);
}

/* asyncio _release: the party is complete. */
static void barrier_trip(weft_barrier_t *b) {
  b->state = WEFT_BARRIER_DRAINING;
  barrier_notify_all(b);
}

static void barrier_process(weft_barrier_t *b) {
  while (!b->inflight && b->ready.head != NULL) {
    barrier_waiter *bw = (barrier_waiter *)b->ready.head;
    weft__wlist_remove(&bw->w);
    if (weft_future_done(bw->w.fut))
      continue; /* cancelled: its done callback leaves the barrier */
    if (bw->kind == BW_BLOCK) {
      if (b->state == WEFT_BARRIER_DRAINING || b->state == WEFT_BARRIER_RESETTING) {
        weft__wlist_push(&b->cond, &bw->w);
      } else if (b->state == WEFT_BARRIER_BROKEN) {
        barrier_decide(b, bw, false, "Barrier aborted");
      } else {
        bw->index = b->count++;
        bw->counted = true;
        if (bw->index + 1 == b->parties) {
          barrier_trip(b);
          barrier_decide(b, bw, true, NULL);
        } else {
          bw->kind = BW_WAIT;
          weft__wlist_push(&b->cond, &bw->w);
        }
      }
    } else if (b->state == WEFT_BARRIER_FILLING) {
      weft__wlist_push(&b->cond, &bw->w);
    } else {
      barrier_decide(b, bw, b->state == WEFT_BARRIER_DRAINING, "Abort or reset of barrier");
    }
  }
}

static void barrier_waiter_done(weft_future_t *f, void *userdata) {
  (void)f;
  barrier_waiter *bw = userdata;
  weft_barrier_t *b = (weft_barrier_t *)bw->w.obj;
  weft__wlist_remove(&bw->w);
  if (bw->counted) { /* cancelled while inside */
    bw->counted = false;
    barrier_exit(b);
    barrier_kick(b);
  }
  weft__waiter_free(&bw->w);
}

weft_future_t *weft_barrier_wait(weft_barrier_t *barrier) {
  weft_barrier_t *b = barrier;
  int rc = weft__sobj_check((weft__sobj *)b);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  weft_loop_t *loop = b->obj.loop;
  if (b->state == WEFT_BARRIER_BROKEN)
    return weft__future_failed(loop, WEFT_EBROKENBARRIER, "Barrier aborted");
  if (b->state == WEFT_BARRIER_FILLING && b->count + 1 == b->parties) {
    /* This arrival trips it: returns at once, like asyncio's wait(), which
     * does not suspend on this path. */
    weft_future_t *f = weft_future_new(loop);
    if (f == NULL)
      return NULL;
    int index = b->count++;
    barrier_trip(b);
    (void)weft_future_set_int64(f, index);
    barrier_exit(b);
    barrier_kick(b);
    return f;
  }
  barrier_waiter *bw =
      (barrier_waiter *)weft__waiter_new(&b->obj, sizeof *bw, barrier_waiter_done);
  if (bw == NULL)
    return NULL;
  if (b->state == WEFT_BARRIER_FILLING) {
    bw->kind = BW_WAIT;
    bw->index = b->count++;
    bw->counted = true;
  } else {
    bw->kind = BW_BLOCK; /* draining or resetting: wait until it fills again */
  }
  weft__wlist_push(&b->cond, &bw->w);
  return bw->w.fut;
}

int weft_barrier_reset(weft_barrier_t *barrier) {
  int rc = weft__sobj_check((weft__sobj *)barrier);
  if (rc != 0)
    return rc;
  if (barrier->count > 0)
    barrier->state = WEFT_BARRIER_RESETTING;
  else
    barrier->state = WEFT_BARRIER_FILLING;
  barrier_notify_all(barrier);
  barrier_kick(barrier);
  return 0;
}

int weft_barrier_abort(weft_barrier_t *barrier) {
  int rc = weft__sobj_check((weft__sobj *)barrier);
  if (rc != 0)
    return rc;
  barrier->state = WEFT_BARRIER_BROKEN;
  barrier_notify_all(barrier);
  barrier_kick(barrier);
  return 0;
}

int weft_barrier_parties(const weft_barrier_t *barrier) {
  int rc = weft__sobj_check((const weft__sobj *)barrier);
  return rc != 0 ? rc : barrier->parties;
}

int weft_barrier_n_waiting(const weft_barrier_t *barrier) {
  int rc = weft__sobj_check((const weft__sobj *)barrier);
  if (rc != 0)
    return rc;
  return barrier->state == WEFT_BARRIER_FILLING ? barrier->count : 0;
}

int weft_barrier_broken(const weft_barrier_t *barrier) {
  int rc = weft__sobj_check((const weft__sobj *)barrier);
  return rc != 0 ? rc : barrier->state == WEFT_BARRIER_BROKEN;
}

int weft_barrier_state(const weft_barrier_t *barrier) {
  int rc = weft__sobj_check((const weft__sobj *)barrier);
  return rc != 0 ? rc : barrier->state;
}

int weft_barrier_describe(const weft_barrier_t *barrier, char *buf, size_t size) {
  static const char *const names[] = {"filling", "draining", "resetting", "broken"};
  weft__text t;
  int rc = text_begin(&t, (const weft__sobj *)barrier, buf, size);
  if (rc != 0)
    return rc;
  weft__text_add(&t, "<Barrier [%s", names[barrier->state]);
  if (barrier->state != WEFT_BARRIER_BROKEN)
    weft__text_add(&t, ", waiters:%d/%d", weft_barrier_n_waiting(barrier), barrier->parties);
  weft__text_add(&t, "]>");
  return weft__text_end(&t);
}
