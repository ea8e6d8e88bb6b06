/*
 * 30_taskgroup.c: a task group (asyncio.TaskGroup) where one child fails:
 * its siblings and the group's body are cancelled, and the group fails
 * with an error group that holds the child's error.
 *
 * The asyncio program it mirrors:
 *
 *   async def worker(name, delay, fail=False):
 *       try:
 *           await asyncio.sleep(delay)
 *       except asyncio.CancelledError:
 *           print(f"  {name} cancelled")
 *           raise
 *       if fail:
 *           raise ValueError(f"{name} broke")
 *       print(f"  {name} done")
 *
 *   async def main():
 *       try:
 *           async with asyncio.TaskGroup() as tg:
 *               tg.create_task(worker("a", 0.1))
 *               tg.create_task(worker("b", 0.2, fail=True))
 *               tg.create_task(worker("c", 1.0))
 *               tg.create_task(worker("d", 2.0))
 *               try:
 *                   await asyncio.sleep(5)
 *               except asyncio.CancelledError:
 *                   print("  the body is cancelled too")
 *                   raise
 *       except* ValueError as eg:
 *           for e in eg.exceptions:
 *               print("error:", e)
 *
 *   asyncio.run(main())
 *
 * In C the `async with` is weft_taskgroup_enter and WEFT_TASKGROUP_EXIT
 * (which waits for every child); `except*` is rc == WEFT_EGROUP, and the
 * errors are walked with weft_taskgroup_error_count/_code/_message/_task.
 */
#include <stdio.h>
#include <weft.h>

typedef struct {
  WEFT_CORO_STATE;
  const char *name;
  double delay;
  int fail;
  char message[32];
} worker_frame;

static int cancelled_workers, body_cancelled;

static int worker(weft_task_t *task, void *userdata) {
  worker_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  WEFT_AWAIT_SLEEP(rc, f->delay);
  if (rc == WEFT_ECANCELED) {
    printf("  %s cancelled\n", f->name);
    cancelled_workers++;
    WEFT_CORO_FAIL(rc, NULL);
  }
  if (f->fail) {
    printf("  %s fails\n", f->name);
    snprintf(f->message, sizeof f->message, "%s broke", f->name);
    WEFT_CORO_FAIL(WEFT_EINVAL, f->message); /* ValueError(f"{name} broke") */
  }
  printf("  %s done\n", f->name);
  WEFT_CORO_END();
}

static int spawn_worker(weft_taskgroup_t *tg, const char *name, double delay, int fail) {
  worker_frame *w;
  int rc = weft_taskgroup_spawn_frame(tg, NULL, name, worker, sizeof *w, (void **)&w);
  if (rc == 0) {
    w->name = name;
    w->delay = delay;
    w->fail = fail;
  }
  return rc;
}

typedef struct {
  WEFT_CORO_STATE;
  weft_taskgroup_t *tg;
  int outcome, nerrors, first_code;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc = 0;
  WEFT_CORO_BEGIN(task, f);
  printf("a task group of four workers; b fails after 0.2 s:\n");
  f->tg = weft_taskgroup_enter(task);
  if (f->tg == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot open the task group");
  spawn_worker(f->tg, "a", 0.1, 0);
  spawn_worker(f->tg, "b", 0.2, 1);
  spawn_worker(f->tg, "c", 1.0, 0);
  spawn_worker(f->tg, "d", 2.0, 0);
  WEFT_AWAIT_SLEEP(rc, 5.0); /* the body: cancelled when b fails */
  if (rc == WEFT_ECANCELED) {
    printf("  the body is cancelled too\n");
    body_cancelled = 1;
  }
  WEFT_TASKGROUP_EXIT(rc, f->tg); /* waits for every child */
  f->outcome = rc;
  if (rc == WEFT_EGROUP) {
    printf("%s\n", weft_taskgroup_message(f->tg));
    f->nerrors = weft_taskgroup_error_count(f->tg);
    for (int i = 0; i < f->nerrors; i++)
      printf("error: %s (%s) from task '%s'\n", weft_taskgroup_error_message(f->tg, (size_t)i),
             weft_err_name(weft_taskgroup_error_code(f->tg, (size_t)i)),
             weft_task_name(weft_taskgroup_error_task(f->tg, (size_t)i)));
    f->first_code = weft_taskgroup_error_code(f->tg, 0);
  }
  weft_taskgroup_unref(f->tg);
  WEFT_CORO_END(); /* except* ValueError: handled */
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.outcome != WEFT_EGROUP || f.nerrors != 1 || f.first_code != WEFT_EINVAL ||
      cancelled_workers != 2 || !body_cancelled) {
    fprintf(stderr, "expected EGROUP with one EINVAL, c and d and the body cancelled; got %s, "
            "%d errors, %d cancelled, body %d\n", weft_err_name(f.outcome), f.nerrors,
            cancelled_workers, body_cancelled);
    return 1;
  }
  return 0;
}
