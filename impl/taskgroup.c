/*
 * taskgroup.c: task groups (weft/taskgroup.h), after CPython's
 * asyncio/taskgroups.py (3.12 with the later fixes: the uncancel after the
 * wait, gh-155433's pending cancellation, TaskGroup.cancel).
 *
 * Built on the public API: children are ordinary tasks watched through a
 * done callback, the exit awaits a plain future that the last child's
 * callback completes (asyncio's _on_completed_fut), and a done callback on
 * the parent aborts a group whose parent finished without exiting.  From
 * the core's private header it uses only the thread/closed checks and
 * weft__set_last_error / weft__strdup.
 *
 * References to a group: the caller's, one per child node (held by the
 * child's done callback) and one held by the parent's done callback while
 * it is registered.
 */
#include "weft-internal.h"

#include <stdio.h>

/* One child while it runs: the userdata of its done callback. */
typedef struct child_node child_node;
struct child_node {
  child_node *prev, *next;
  weft_taskgroup_t *group;
  weft_task_t *task; /* referenced */
};

typedef struct group_error {
  int code;
  char *message;     /* owned copy, or NULL */
  weft_task_t *task; /* referenced; NULL for the body's error */
} group_error;

struct weft_taskgroup {
  atomic_uint refs;
  weft_loop_t *loop;
  weft_task_t *parent;         /* referenced for the group's life */
  child_node *head, *tail;     /* children not finished, in spawn order */
  int nchildren;
  weft_future_t *completion;   /* awaited by the exit, or NULL */
  group_error *errors;
  int nerrors, cap;
  int dropped;                 /* errors that found no room (out of memory) */
  char *message;               /* the summary, once failed */
  int body_status;             /* what the first exit call was given */
  uint8_t state;               /* enum weft_taskgroup_state */
  bool aborting;
  bool parent_cancel_requested; /* we cancelled the parent: uncancel at exit */
  bool propagate_cancel;        /* the exit ends with WEFT_ECANCELED unless errors */
  bool pending_cancel;          /* a cancellation arrived while the exit waited */
  bool watching;                /* on_parent_done is registered */
};

weft_taskgroup_t *weft_taskgroup_ref(weft_taskgroup_t *group) {
  if (group != NULL)
    atomic_fetch_add_explicit(&group->refs, 1, memory_order_relaxed);
  return group;
}

void weft_taskgroup_unref(weft_taskgroup_t *group) {
  if (group == NULL || atomic_fetch_sub_explicit(&group->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* No child node and no parent watch is left: the group is done or was
   * never used; its completion future is gone (released when done). */
  for (int i = 0; i < group->nerrors; i++) {
    free(group->errors[i].message);
    weft_task_unref(group->errors[i].task);
  }
  free(group->errors);
  free(group->message);
  weft_future_unref(group->completion);
  weft_task_unref(group->parent);
  free(group);
}

/* ---- aborting and errors --------------------------------------------------------- */

/* asyncio _abort: cancel every child that is not done yet. */
static void group_abort(weft_taskgroup_t *g) {
  g->aborting = true;
  for (child_node *n = g->head; n != NULL; n = n->next)
    if (!weft_future_done(weft_task_future(n->task)))
      (void)weft_task_cancel(n->task, NULL);
}

/* Makes room for `n` error entries.  spawn reserves one per child (and one
 * for the body) before the child exists, so recording a child's failure
 * later never allocates and no failure can be lost for want of memory. */
static int group_reserve(weft_taskgroup_t *g, int n) {
  if (n <= g->cap)
    return 0;
  int cap = g->cap ? g->cap : 4;
  while (cap < n)
    cap *= 2;
  group_error *grown = realloc(g->errors, (size_t)cap * sizeof *grown);
  if (grown == NULL)
    return WEFT_ENOMEM;
  g->errors = grown;
  g->cap = cap;
  return 0;
}

/* Appends an error.  Only the body's error of a group that never spawned
 * can find no room (nothing was reserved): it still counts (the exit gives
 * WEFT_EGROUP) and is reported to the exception handler instead. */
static void group_add_error(weft_taskgroup_t *g, int code, const char *message,
                            weft_task_t *task) {
  if (group_reserve(g, g->nerrors + 1) != 0) {
    g->dropped++;
    (void)weft_loop_call_exception_handler(
        g->loop, code, "task group error dropped (out of memory)",
        weft_task_future(task));
    return;
  }
  group_error *e = &g->errors[g->nerrors++];
  e->code = code;
  e->message = weft__strdup(message);
  e->task = task != NULL ? weft_task_ref(task) : NULL;
}

/* The group asks the parent's body to stop (the parent is not aborting yet). */
static void group_cancel_parent(weft_taskgroup_t *g) {
  group_abort(g);
  if (!g->parent_cancel_requested) {
    g->parent_cancel_requested = true;
    (void)weft_task_cancel(g->parent, NULL);
  }
}

/* asyncio _on_task_done. */
static void on_child_done(weft_future_t *future, void *userdata) {
  child_node *n = userdata;
  weft_taskgroup_t *g = n->group;
  if (n->prev != NULL)
    n->prev->next = n->next;
  else
    g->head = n->next;
  if (n->next != NULL)
    n->next->prev = n->prev;
  else
    g->tail = n->prev;
  g->nchildren--;
  if (g->completion != NULL && g->nchildren == 0 && !weft_future_done(g->completion))
    (void)weft_future_set_none(g->completion);

  int rc = weft_future_cancelled(future) ? 0 : weft_future_error(future); /* observes it */
  if (rc != 0) {
    group_add_error(g, rc, weft_future_error_message(future), n->task);
    if (weft_future_done(weft_task_future(g->parent))) {
      /* the parent finished without exiting the group: nobody will read it */
      (void)weft_loop_call_exception_handler(
          g->loop, rc, "task group child failed after its parent task finished", future);
    } else if (!g->aborting && !g->parent_cancel_requested) {
      group_cancel_parent(g);
    }
  }
  weft_task_unref(n->task);
  free(n);
  weft_taskgroup_unref(g);
}

/* The parent finished; if it never exited the group, abort the group. */
static void on_parent_done(weft_future_t *future, void *userdata) {
  (void)future;
  weft_taskgroup_t *g = userdata;
  g->watching = false;
  if (g->state != WEFT_TASKGROUP_DONE) {
    g->state = WEFT_TASKGROUP_DONE;
    group_abort(g);
  }
  weft_taskgroup_unref(g);
}

/* ---- the API ---------------------------------------------------------------------- */

weft_taskgroup_t *weft_taskgroup_enter(weft_task_t *parent) {
  if (parent == NULL)
    WEFT__FAIL_NULL(WEFT_EINVAL);
  weft_loop_t *loop = weft_future_loop(weft_task_future(parent));
  int rc = weft__loop_guard(loop);
  if (rc != 0)
    WEFT__FAIL_NULL(rc);
  if (weft_loop_current_task(loop) != parent)
    WEFT__FAIL_NULL(WEFT_ESTATE); /* "cannot determine the parent task" */
  weft_taskgroup_t *g = calloc(1, sizeof *g);
  if (g == NULL)
    WEFT__FAIL_NULL(WEFT_ENOMEM);
  atomic_init(&g->refs, 2u); /* the caller's and the parent watch's */
  g->loop = loop;
  g->parent = weft_task_ref(parent);
  g->state = WEFT_TASKGROUP_ACTIVE;
  rc = weft_future_add_done_callback(weft_task_future(parent), on_parent_done, g);
  if (rc != 0) {
    weft_task_unref(parent);
    free(g);
    WEFT__FAIL_NULL(rc);
  }
  g->watching = true;
  return g;
}

/* Checks shared by the two spawns. */
static int spawn_check(weft_taskgroup_t *g, weft_step_fn step) {
  if (g == NULL || step == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(g->loop))
    return WEFT_ETHREAD;
  if (weft__is_closed(g->loop))
    return WEFT_ECLOSED;
  if (g->state == WEFT_TASKGROUP_DONE ||
      (g->state == WEFT_TASKGROUP_EXITING && g->nchildren == 0))
    return WEFT_ESTATE; /* "is finished" */
  if (g->aborting)
    return WEFT_ESTATE; /* "is shutting down" */
  return 0;
}

/* Both spawns: a task (with an inline frame if `frame` is not NULL), linked
 * into the group.  The node is allocated first, so that nothing can fail
 * once the task exists. */
static int spawn_into(weft_taskgroup_t *g, weft_task_t **task_out, const char *name,
                      weft_step_fn step, void *userdata, weft_release_fn release,
                      size_t frame_size, void **frame) {
  int rc = spawn_check(g, step);
  if (rc != 0)
    return rc;
  /* an error slot for each child that may still fail, this one, the body */
  rc = group_reserve(g, g->nerrors + g->nchildren + 2);
  if (rc != 0)
    return rc;
  child_node *n = malloc(sizeof *n);
  if (n == NULL)
    return WEFT_ENOMEM;
  weft_task_t *task = frame != NULL
                          ? weft_task_spawn_frame(g->loop, name, step, frame_size, frame)
                          : weft_task_spawn(g->loop, name, step, userdata, release);
  if (task == NULL) {
    free(n);
    return weft_last_error();
  }
  n->group = g;
  n->task = task;
  /* A new task has no done callback yet: this one takes the inline slot. */
  rc = weft_future_add_done_callback(weft_task_future(task), on_child_done, n);
  if (rc != 0) {
    /* not expected; the task has not started: cancelled, it never runs */
    (void)weft_task_cancel(task, NULL);
    weft_task_unref(task);
    free(n);
    return rc;
  }
  weft_taskgroup_ref(g);
  n->next = NULL;
  n->prev = g->tail;
  if (g->tail != NULL)
    g->tail->next = n;
  else
    g->head = n;
  g->tail = n;
  g->nchildren++;
  if (task_out != NULL)
    *task_out = weft_task_ref(task);
  return 0;
}

int weft_taskgroup_spawn(weft_taskgroup_t *group, weft_task_t **task_out, const char *name,
                         weft_step_fn step, void *userdata, weft_release_fn release) {
  return spawn_into(group, task_out, name, step, userdata, release, 0, NULL);
}

int weft_taskgroup_spawn_frame(weft_taskgroup_t *group, weft_task_t **task_out,
                               const char *name, weft_step_fn step, size_t frame_size,
                               void **frame) {
  if (frame == NULL)
    return WEFT_EINVAL;
  return spawn_into(group, task_out, name, step, NULL, NULL, frame_size, frame);
}

/* Builds the summary message of a failed group (best effort). */
static void group_summarize(weft_taskgroup_t *g) {
  char buf[512];
  size_t len = (size_t)snprintf(buf, sizeof buf, "unhandled errors in a task group (%d sub-%s)",
                                g->nerrors, g->nerrors == 1 ? "exception" : "exceptions");
  for (int i = 0; i < g->nerrors && len < sizeof buf; i++) {
    const group_error *e = &g->errors[i];
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s%s%s", i == 0 ? ": " : "; ",
                            weft_err_name(e->code), e->message ? ": " : "",
                            e->message ? e->message : "");
  }
  g->message = weft__strdup(buf);
}

/* The end of the exit once no child is left: the outcome. */
static int group_finish(weft_taskgroup_t *g, int body_status) {
  g->state = WEFT_TASKGROUP_DONE;
  weft_future_unref(g->completion);
  g->completion = NULL;
  if (g->watching) {
    g->watching = false;
    if (weft_future_remove_done_callback(weft_task_future(g->parent), on_parent_done, g) > 0)
      weft_taskgroup_unref(g); /* the watch's reference; the caller still holds one */
  }
  if (g->parent_cancel_requested) {
    /* We cancelled the parent: withdraw it.  If no request is left, the
     * cancellation was ours alone; if one is, it is not ours (gh-155433). */
    if (weft_task_uncancel(g->parent) == 0)
      g->propagate_cancel = false;
    else if (!g->propagate_cancel)
      g->propagate_cancel = g->pending_cancel;
  }
  if (g->propagate_cancel && g->nerrors == 0 && g->dropped == 0)
    return WEFT_ECANCELED;
  if (body_status != 0 && body_status != WEFT_ECANCELED)
    group_add_error(g, body_status, NULL, NULL);
  if (g->nerrors == 0 && g->dropped == 0)
    return 0;
  if (weft_task_cancelling(g->parent) > 0) {
    /* cancelled from outside too: keep the count, re-arm the request */
    (void)weft_task_uncancel(g->parent);
    (void)weft_task_cancel(g->parent, NULL);
  }
  group_summarize(g);
  return WEFT_EGROUP;
}

int weft_taskgroup_exit(weft_taskgroup_t *group, int status) {
  if (group == NULL)
    return WEFT_EINVAL;
  weft_taskgroup_t *g = group;
  if (!weft__on_loop(g->loop))
    return WEFT_ETHREAD;
  if (g->state == WEFT_TASKGROUP_DONE)
    return WEFT_ESTATE;
  if (weft_loop_current_task(g->loop) != g->parent)
    return WEFT_ESTATE;
  if (g->state == WEFT_TASKGROUP_ACTIVE) {
    /* first call: `status` is the body's outcome */
    g->state = WEFT_TASKGROUP_EXITING;
    g->body_status = status;
    if (status == WEFT_ECANCELED)
      g->propagate_cancel = true;
    if (status != 0 && !g->aborting)
      group_abort(g);
  } else {
    /* resumed: `status` says how the wait ended */
    if (g->completion != NULL && weft_task_awaiting(g->parent) == g->completion)
      return WEFT_ESTATE; /* still waiting: called twice in one step */
    if (status != 0) {
      g->pending_cancel = true;
      if (!g->aborting) {
        /* the parent was cancelled from outside while we waited */
        g->propagate_cancel = true;
        group_abort(g);
      }
    }
  }
  if (g->nchildren > 0) {
    if (g->completion == NULL || weft_future_done(g->completion)) {
      weft_future_unref(g->completion);
      g->completion = weft_future_new(g->loop);
    }
    int rc = g->completion != NULL ? weft_task_await(g->parent, g->completion) : WEFT_ENOMEM;
    if (rc == WEFT_STEP_SUSPEND)
      return WEFT_STEP_SUSPEND;
    /* no memory for the future: poll instead, one round at a time */
    return weft_task_yield(g->parent);
  }
  return group_finish(g, g->body_status);
}

int weft_taskgroup_cancel(weft_taskgroup_t *group) {
  if (group == NULL)
    return WEFT_EINVAL;
  if (!weft__on_loop(group->loop))
    return WEFT_ETHREAD;
  if (group->state == WEFT_TASKGROUP_DONE ||
      (group->state == WEFT_TASKGROUP_EXITING && group->nchildren == 0))
    return 0;
  if (!group->aborting)
    group_cancel_parent(group);
  return 0;
}

int weft_taskgroup_state(const weft_taskgroup_t *group) {
  return group != NULL ? group->state : WEFT_EINVAL;
}

int weft_taskgroup_aborting(const weft_taskgroup_t *group) {
  return group != NULL ? group->aborting : WEFT_EINVAL;
}

int weft_taskgroup_size(const weft_taskgroup_t *group) {
  return group != NULL ? group->nchildren : WEFT_EINVAL;
}

int weft_taskgroup_error_count(const weft_taskgroup_t *group) {
  return group != NULL ? group->nerrors : WEFT_EINVAL;
}

static const group_error *error_at(const weft_taskgroup_t *group, size_t index) {
  if (group == NULL || index >= (size_t)group->nerrors)
    return NULL;
  return &group->errors[index];
}

int weft_taskgroup_error_code(const weft_taskgroup_t *group, size_t index) {
  const group_error *e = error_at(group, index);
  return e != NULL ? e->code : WEFT_EINVAL;
}

const char *weft_taskgroup_error_message(const weft_taskgroup_t *group, size_t index) {
  const group_error *e = error_at(group, index);
  return e != NULL ? e->message : NULL;
}

weft_task_t *weft_taskgroup_error_task(const weft_taskgroup_t *group, size_t index) {
  const group_error *e = error_at(group, index);
  return e != NULL ? e->task : NULL;
}

const char *weft_taskgroup_message(const weft_taskgroup_t *group) {
  return group != NULL ? group->message : NULL;
}

int weft_taskgroup_describe(const weft_taskgroup_t *group, char *buf, size_t size) {
  if (group == NULL || (buf == NULL && size > 0))
    return WEFT_EINVAL;
  static const char *const names[] = {"entered", "exiting", "finished"};
  char tasks[32] = "", errors[32] = "";
  if (group->nchildren > 0)
    snprintf(tasks, sizeof tasks, " tasks=%d", group->nchildren);
  if (group->nerrors > 0)
    snprintf(errors, sizeof errors, " errors=%d", group->nerrors);
  const char *word = group->aborting && group->state != WEFT_TASKGROUP_DONE
                         ? "cancelling"
                         : names[group->state % 3];
  return snprintf(buf, size, "<TaskGroup%s%s %s>", tasks, errors, word);
}
