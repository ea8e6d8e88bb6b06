package weft

import (
	"context"
	"runtime"
	"sync/atomic"

	c "weft.local/weft/internal/cweft"
)

// cobj is the C side of a sync primitive or queue: created on the loop
// thread (in order with the calls made on it meanwhile), one reference
// dropped by a finalizer.
type cobj struct {
	l   *Loop
	ptr atomic.Uintptr
	err error // why it could not be created (read after ptr, on the loop)
}

func (o *cobj) init(l *Loop, create func() uintptr, unref func(uintptr), owner any) {
	o.l = l
	if err := l.exec(func() {
		p := create()
		if p == 0 {
			o.err = lastError()
			return
		}
		o.ptr.Store(p)
	}); err != nil {
		o.err = err
	}
	runtime.SetFinalizer(owner, func(any) {
		if p := o.ptr.Load(); p != 0 {
			unref(p)
		}
	})
}

// future makes a future of a C call on the object (loop thread).
func objFuture[T any](o *cobj, call func(p uintptr) uintptr, decode func(f uintptr) (any, error)) *Future[T] {
	return fromC[T](o.l, func() uintptr {
		p := o.ptr.Load()
		if p == 0 {
			return 0 // weft_last_error() is the creation's
		}
		return call(p)
	}, decode)
}

// do runs a C call on the object on the loop thread and returns its code.
func (o *cobj) do(call func(p uintptr) int) error {
	return o.l.call(func() error {
		p := o.ptr.Load()
		if p == 0 {
			return o.fail()
		}
		return errorOf(call(p))
	})
}

// get reads something of the object (on the loop; after close, here).
func objGet[T any](o *cobj, fn func(p uintptr) T) T {
	v, _ := read(o.l, func() (T, error) {
		var zero T
		p := o.ptr.Load()
		if p == 0 {
			return zero, nil
		}
		return fn(p), nil
	})
	return v
}

func (o *cobj) fail() error {
	if o.err != nil {
		return o.err
	}
	return ErrClosed
}

// lockCtx awaits an acquiring future; if ctx ends first it cancels it, and
// if the acquisition won the race anyway, it counts (nil: held).
func lockCtx(ctx context.Context, f *Future[struct{}]) error {
	_, err := f.Await(ctx)
	if err == nil || ctx == nil || ctx.Err() == nil {
		return err
	}
	select {
	case <-f.c.out.done:
	default:
		f.Cancel("")
		<-f.Done()
	}
	if _, ferr := f.Result(); ferr == nil {
		return nil
	}
	return err
}

// ---- Event ---------------------------------------------------------------------

// Event is asyncio.Event (weft_event_t): a flag that tasks wait for.
type Event struct{ o cobj }

// NewEvent makes an event of l, not set.
func NewEvent(l *Loop) *Event {
	e := &Event{}
	e.o.init(l, func() uintptr { return c.EventNew(l.ptr) }, c.EventUnref, e)
	return e
}

// Set sets the flag and wakes every waiter.
func (e *Event) Set() error { return e.o.do(c.EventSet) }

// Clear clears the flag.
func (e *Event) Clear() error { return e.o.do(c.EventClear) }

// IsSet says whether the flag is set.
func (e *Event) IsSet() bool { return objGet(&e.o, c.EventIsSet) }

// Wait is a future done once the flag is set (at once if it is).
func (e *Event) Wait() *Future[struct{}] { return objFuture[struct{}](&e.o, c.EventWait, nil) }

// String describes the event, e.g. "<Event [unset, waiters:1]>".
func (e *Event) String() string { return objGet(&e.o, c.EventDescribe) }

// ---- Lock ------------------------------------------------------------------------

// Lock is asyncio.Lock (weft_lock_t): a mutex between tasks, FIFO-fair.
// Unlike sync.Mutex it is held by whoever acquired it, not by a goroutine.
type Lock struct{ o cobj }

// NewLock makes an unlocked lock of l.
func NewLock(l *Loop) *Lock {
	k := &Lock{}
	k.o.init(l, func() uintptr { return c.LockNew(l.ptr) }, c.LockUnref, k)
	return k
}

// Acquire is a future done once the caller holds the lock.  Cancelling it
// gives up the wait.
func (k *Lock) Acquire() *Future[struct{}] { return objFuture[struct{}](&k.o, c.LockAcquire, nil) }

// Lock acquires the lock, waiting while ctx allows (nil: held).
func (k *Lock) Lock(ctx context.Context) error { return lockCtx(ctx, k.Acquire()) }

// Release releases the lock (ErrState if it is not locked).
func (k *Lock) Release() error { return k.o.do(c.LockRelease) }

// Locked says whether the lock is held.
func (k *Lock) Locked() bool { return objGet(&k.o, c.LockLocked) }

// String describes the lock, e.g. "<Lock [locked, waiters:2]>".
func (k *Lock) String() string { return objGet(&k.o, c.LockDescribe) }

// ---- Semaphore -----------------------------------------------------------------------

// Semaphore is asyncio.Semaphore or BoundedSemaphore (weft_semaphore_t).
type Semaphore struct{ o cobj }

// NewSemaphore makes a semaphore with value n.
func NewSemaphore(l *Loop, n int) *Semaphore { return newSemaphore(l, n, false) }

// NewBoundedSemaphore makes a semaphore whose Release fails (ErrValue) above
// its initial value n.
func NewBoundedSemaphore(l *Loop, n int) *Semaphore { return newSemaphore(l, n, true) }

func newSemaphore(l *Loop, n int, bounded bool) *Semaphore {
	s := &Semaphore{}
	s.o.init(l, func() uintptr { return c.SemaphoreNew(l.ptr, n, bounded) }, c.SemaphoreUnref, s)
	return s
}

// Acquire is a future done once the caller has a unit.
func (s *Semaphore) Acquire() *Future[struct{}] {
	return objFuture[struct{}](&s.o, c.SemaphoreAcquire, nil)
}

// AcquireCtx takes a unit, waiting while ctx allows (nil: taken).
func (s *Semaphore) AcquireCtx(ctx context.Context) error { return lockCtx(ctx, s.Acquire()) }

// Release gives a unit back.
func (s *Semaphore) Release() error { return s.o.do(c.SemaphoreRelease) }

// Locked says whether an Acquire would wait.
func (s *Semaphore) Locked() bool { return objGet(&s.o, c.SemaphoreLocked) }

// Value is the number of free units.
func (s *Semaphore) Value() int { return objGet(&s.o, c.SemaphoreValue) }

// String describes the semaphore, e.g. "<Semaphore [unlocked, value:2]>".
func (s *Semaphore) String() string { return objGet(&s.o, c.SemaphoreDescribe) }

// ---- Condition -------------------------------------------------------------------------

// Condition is asyncio.Condition (weft_condition_t) over a Lock.
type Condition struct {
	o    cobj
	lock *Lock
}

// NewCondition makes a condition over lock, or over a new lock if nil.
func NewCondition(l *Loop, lock *Lock) *Condition {
	cd := &Condition{lock: lock}
	if lock == nil {
		cd.lock = &Lock{}
		cd.lock.o.l = l
	}
	own := lock == nil
	cd.o.init(l, func() uintptr {
		var lk uintptr
		if !own {
			if lk = lock.o.ptr.Load(); lk == 0 {
				return 0
			}
		}
		p := c.ConditionNew(l.ptr, lk)
		if p != 0 && own {
			k := c.ConditionLock(p)
			c.LockRef(k)
			cd.lock.o.ptr.Store(k)
		}
		return p
	}, c.ConditionUnref, cd)
	if own {
		runtime.SetFinalizer(cd.lock, func(k *Lock) {
			if p := k.o.ptr.Load(); p != 0 {
				c.LockUnref(p)
			}
		})
	}
	return cd
}

// Lock is the condition's lock.
func (cd *Condition) Lock() *Lock { return cd.lock }

// Acquire acquires the condition's lock.
func (cd *Condition) Acquire() *Future[struct{}] {
	return objFuture[struct{}](&cd.o, c.ConditionAcquire, nil)
}

// Release releases the condition's lock.
func (cd *Condition) Release() error { return cd.o.do(c.ConditionRelease) }

// Locked says whether the lock is held.
func (cd *Condition) Locked() bool { return objGet(&cd.o, c.ConditionLocked) }

// Wait releases the lock, waits for a notify and re-acquires the lock
// (held again however it ends).  ErrState if the lock is not held.
func (cd *Condition) Wait() *Future[struct{}] {
	return objFuture[struct{}](&cd.o, c.ConditionWait, nil)
}

// WaitFor waits (as Wait) until pred, called on the loop thread, is true;
// the lock is held when it is done.
func (cd *Condition) WaitFor(pred func() bool) *Future[struct{}] {
	l := cd.o.l
	return objFuture[struct{}](&cd.o, func(p uintptr) uintptr {
		id := l.newSlot(slot{pred: pred})
		f := c.ConditionWaitFor(p, id)
		if f == 0 {
			l.freeSlot(id)
		}
		return f
	}, func(uintptr) (any, error) { return struct{}{}, nil })
}

// Notify wakes up to n waiters; the number woken.
func (cd *Condition) Notify(n int) (int, error) {
	return Call(cd.o.l, func() (int, error) {
		p := cd.o.ptr.Load()
		if p == 0 {
			return 0, cd.o.fail()
		}
		rc := c.ConditionNotify(p, n)
		return max0(rc), errorOf(rc)
	})
}

// NotifyAll wakes every waiter.
func (cd *Condition) NotifyAll() (int, error) {
	return Call(cd.o.l, func() (int, error) {
		p := cd.o.ptr.Load()
		if p == 0 {
			return 0, cd.o.fail()
		}
		rc := c.ConditionNotifyAll(p)
		return max0(rc), errorOf(rc)
	})
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// String describes the condition.
func (cd *Condition) String() string { return objGet(&cd.o, c.ConditionDescribe) }

// ---- Barrier ------------------------------------------------------------------------------

// Barrier is asyncio.Barrier (weft_barrier_t).
type Barrier struct{ o cobj }

// NewBarrier makes a barrier for parties waiters.
func NewBarrier(l *Loop, parties int) *Barrier {
	b := &Barrier{}
	b.o.init(l, func() uintptr { return c.BarrierNew(l.ptr, parties) }, c.BarrierUnref, b)
	return b
}

// Wait is a future done with the caller's arrival index once every party
// arrived; it fails with EBROKENBARRIER if the barrier is aborted or reset.
func (b *Barrier) Wait() *Future[int] { return objFuture[int](&b.o, c.BarrierWait, nil) }

// Reset returns the barrier to empty (waiters inside fail).
func (b *Barrier) Reset() error { return b.o.do(c.BarrierReset) }

// Abort breaks the barrier.
func (b *Barrier) Abort() error { return b.o.do(c.BarrierAbort) }

// Parties is the number of waiters needed to trip it.
func (b *Barrier) Parties() int { return objGet(&b.o, c.BarrierParties) }

// Waiting is the number of waiters filling it now.
func (b *Barrier) Waiting() int { return objGet(&b.o, c.BarrierNWaiting) }

// Broken says whether it is broken.
func (b *Barrier) Broken() bool { return objGet(&b.o, c.BarrierBroken) }

// BarrierState is where a barrier is in its cycle (enum weft_barrier_state).
type BarrierState int

// Barrier states.
const (
	BarrierFilling   BarrierState = 0 // waiting for parties to arrive
	BarrierDraining  BarrierState = 1 // tripped: the parties are leaving
	BarrierResetting BarrierState = 2 // reset while parties were inside
	BarrierBroken    BarrierState = 3 // aborted
)

// State is the barrier's state now.
func (b *Barrier) State() BarrierState { return BarrierState(objGet(&b.o, c.BarrierState)) }

// String describes the barrier.
func (b *Barrier) String() string { return objGet(&b.o, c.BarrierDescribe) }
