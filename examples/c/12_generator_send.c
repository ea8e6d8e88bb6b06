/*
 * 12_generator_send.c: a coroutine is a function that stops in the middle
 * and is resumed later at the same line: Python's generator send(), as a
 * weft task.
 *
 * Reproduces the Generator section of seed 000 ("python asyncio学习"):
 *
 *   num = 0
 *   def gen():
 *       global num
 *       print("函数被调用")                  # the function was called
 *       for i in range(3):
 *           num += yield i
 *           print("num的值为:", num)         # num is now: ...
 *   g = gen()
 *   print(g.send(None))                     # 0
 *   print(g.send(3))                        # num is now: 3, then 1
 *
 * gen() is a task that suspends with WEFT_SUSPEND (no future: it waits to be
 * woken); main "sends" a value by storing it in gen's frame and calling
 * weft_task_wake(), then yields so that gen runs before main goes on (the
 * ready queue is FIFO).  Cancelling gen at the end is g.close(): gen sees
 * WEFT_ECANCELED at its suspension point.
 */
#include <stdio.h>
#include <weft.h>

static int num;

typedef struct {
  WEFT_CORO_STATE;
  int i;
  int sent;    /* the value of `yield` inside gen (what send() passed) */
  int yielded; /* the value gen yields (what send() returns) */
  int closed;  /* set when gen saw the cancellation */
} gen_frame;

static int gen(weft_task_t *task, void *userdata) {
  gen_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  printf("the function was called\n");
  for (f->i = 0; f->i < 3; f->i++) {
    f->yielded = f->i;
    WEFT_SUSPEND(rc); /* num += yield i */
    if (rc == WEFT_ECANCELED) {
      printf("gen closed while suspended at i=%d\n", f->i);
      f->closed = 1;
      WEFT_CORO_FAIL(rc, NULL);
    }
    num += f->sent;
    printf("num is now: %d\n", num);
  }
  WEFT_CORO_END();
}

typedef struct {
  WEFT_CORO_STATE;
  weft_task_t *g;
  gen_frame *gf; /* gen's frame, valid while main holds the task */
  int first, second, outcome, closed;
} main_frame;

static int main_step(weft_task_t *task, void *userdata) {
  main_frame *f = userdata;
  int rc;
  WEFT_CORO_BEGIN(task, f);
  f->g = weft_task_spawn_frame(weft_loop_running(), "gen", gen, sizeof *f->gf, (void **)&f->gf);
  if (f->g == NULL)
    WEFT_CORO_FAIL(weft_last_error(), "cannot spawn");

  WEFT_YIELD(rc); /* g.send(None): gen runs up to its first yield */
  f->first = f->gf->yielded;
  printf("%d\n", f->first);

  f->gf->sent = 3; /* g.send(3) */
  weft_task_wake(f->g);
  WEFT_YIELD(rc);
  f->second = f->gf->yielded;
  printf("%d\n", f->second);

  weft_task_cancel(f->g, "g.close()"); /* g.close() */
  WEFT_AWAIT(rc, weft_task_future(f->g));
  f->outcome = rc;
  f->closed = f->gf->closed;
  weft_task_unref(f->g);
  WEFT_CORO_END();
}

int main(void) {
  main_frame f = {0};
  int rc = weft_run(NULL, main_step, &f);
  if (rc != 0) {
    fprintf(stderr, "weft_run: %s\n", weft_strerror(rc));
    return 1;
  }
  if (f.first != 0 || f.second != 1 || num != 3 || f.outcome != WEFT_ECANCELED || !f.closed) {
    fprintf(stderr, "expected 0, num 3, 1, then a cancelled gen; got %d, %d, %d, %s, %d\n",
            f.first, num, f.second, weft_err_name(f.outcome), f.closed);
    return 1;
  }
  return 0;
}
