package weft

import (
	"context"

	c "weft.local/weft/internal/cweft"
)

// QueueKind is a queue's order (enum weft_queue_kind).
type QueueKind int

// Queue kinds.
const (
	FIFO     QueueKind = 0 // asyncio.Queue
	LIFO     QueueKind = 1 // asyncio.LifoQueue
	Priority QueueKind = 2 // asyncio.PriorityQueue: lowest priority first, FIFO among equals
)

// Queue is an asyncio queue of T values (weft_queue_t): producers Put,
// consumers Get, both as futures, with TaskDone/Join and Shutdown.  Values
// live in the queue as Go value boxes; C code sees opaque pointers.
type Queue[T any] struct{ o cobj }

// NewQueue makes a FIFO queue holding at most maxsize values (0:
// unbounded).
func NewQueue[T any](l *Loop, maxsize int) *Queue[T] { return NewQueueOf[T](l, FIFO, maxsize) }

// NewQueueOf makes a queue of the given kind.
func NewQueueOf[T any](l *Loop, kind QueueKind, maxsize int) *Queue[T] {
	q := &Queue[T]{}
	q.o.init(l, func() uintptr { return c.QueueNew(l.ptr, int(kind), maxsize) }, c.QueueUnref, q)
	return q
}

// put hands a boxed v to a C put; the box goes back if C did not take it.
func (q *Queue[T]) put(v T, call func(p, box uintptr) uintptr) *Future[struct{}] {
	return objFuture[struct{}](&q.o, func(p uintptr) uintptr {
		box := c.NewBox(v)
		f := call(p, box)
		if f == 0 {
			c.FreeBox(box)
		}
		return f
	}, nil)
}

// Put is a future done once v is in the queue (asyncio Queue.put); it fails
// with EQUEUESHUTDOWN if the queue is shut down.
func (q *Queue[T]) Put(v T) *Future[struct{}] {
	return q.put(v, c.QueuePut)
}

// PutPriority puts v with a priority (a Priority queue; others ignore it).
func (q *Queue[T]) PutPriority(priority int64, v T) *Future[struct{}] {
	return q.put(v, func(p, box uintptr) uintptr { return c.QueuePutPriority(p, priority, box) })
}

// PutNowait puts v at once or fails (EQUEUEFULL, EQUEUESHUTDOWN).
func (q *Queue[T]) PutNowait(v T) error { return q.putNowait(v, c.QueuePutNowait) }

// PutPriorityNowait is PutNowait with a priority.
func (q *Queue[T]) PutPriorityNowait(priority int64, v T) error {
	return q.putNowait(v, func(p, box uintptr) int { return c.QueuePutPriorityNowait(p, priority, box) })
}

func (q *Queue[T]) putNowait(v T, call func(p, box uintptr) int) error {
	return q.o.do(func(p uintptr) int {
		box := c.NewBox(v)
		rc := call(p, box)
		if rc != 0 {
			c.FreeBox(box)
		}
		return rc
	})
}

func unbox[T any](box uintptr) (any, error) {
	if v, ok := c.BoxValue(box); ok {
		return v, nil
	}
	return nil, &Error{Code: int(c.ETYPE), Message: "not a Go value"}
}

// Get is a future done with the next value (asyncio Queue.get); it fails
// with EQUEUESHUTDOWN once the queue is shut down and empty.  Cancelling a
// pending get gives up the wait (no value is lost); see Take.
func (q *Queue[T]) Get() *Future[T] {
	return objFuture[T](&q.o, c.QueueGet, func(f uintptr) (any, error) {
		return unbox[T](c.ResultPtr(f))
	})
}

// Take gets the next value, waiting while ctx allows; if ctx ends, the
// get is cancelled (a value that arrived meanwhile is returned, not lost).
func (q *Queue[T]) Take(ctx context.Context) (T, error) {
	f := q.Get()
	v, err := f.Await(ctx)
	if err == nil || ctx == nil || ctx.Err() == nil {
		return v, err
	}
	f.Cancel("")
	<-f.Done()
	if v2, ferr := f.Result(); ferr == nil {
		return v2, nil
	}
	return v, err
}

// GetNowait takes the next value at once or fails (EQUEUEEMPTY,
// EQUEUESHUTDOWN).
func (q *Queue[T]) GetNowait() (T, error) {
	v, err := Call(q.o.l, func() (any, error) {
		p := q.o.ptr.Load()
		if p == 0 {
			return nil, q.o.fail()
		}
		box, rc := c.QueueGetNowait(p)
		if rc != 0 {
			return nil, errorOf(rc)
		}
		v, err := unbox[T](box)
		c.BoxRelease(box)
		return v, err
	})
	return asT[T](v, err)
}

// TaskDone marks one value got as processed (asyncio Queue.task_done).
func (q *Queue[T]) TaskDone() error { return q.o.do(c.QueueTaskDone) }

// Join is a future done once every value put has been marked done.
func (q *Queue[T]) Join() *Future[struct{}] { return objFuture[struct{}](&q.o, c.QueueJoin, nil) }

// Shutdown shuts the queue down (asyncio 3.13): puts fail; gets take what
// is left, then fail; immediate drops what is left too.
func (q *Queue[T]) Shutdown(immediate bool) error {
	return q.o.do(func(p uintptr) int { return c.QueueShutdown(p, immediate) })
}

// Len is the number of values in the queue.
func (q *Queue[T]) Len() int { return objGet(&q.o, c.QueueQsize) }

// Empty says whether the queue is empty.
func (q *Queue[T]) Empty() bool { return objGet(&q.o, c.QueueEmpty) }

// Full says whether a Put would wait.
func (q *Queue[T]) Full() bool { return objGet(&q.o, c.QueueFull) }

// Maxsize is the capacity (0: unbounded).
func (q *Queue[T]) Maxsize() int { return objGet(&q.o, c.QueueMaxsize) }

// String describes the queue, e.g. "<Queue maxsize=2 _queue=2 _putters=1>".
func (q *Queue[T]) String() string { return objGet(&q.o, c.QueueDescribe) }
