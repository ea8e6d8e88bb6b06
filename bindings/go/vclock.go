package weft

import (
	"time"

	c "weft.local/weft/internal/cweft"
)

// The virtual clock (WithVirtualTime) jumps to the next timer when the loop
// is idle.  weft sees a Go task whose body runs as suspended, so on its own
// it would jump while Go code is about to ask for something.  The binding
// therefore counts the bodies that run (Loop.busy): a body is busy from its
// start until it ends, except while it waits in Await (with its task's
// context) or for a request to its step that spans steps (a task group's
// exit waiting for the children).  Whoever wakes a
// waiting body counts it busy again first (unpark), so the count never
// dips between a wake and the resume.  While the count is above zero, the
// iteration hook keeps the clock still and, after a quiet iteration, waits
// for the count to drop (or for work from other goroutines); a body blocked on something weft cannot see
// (a plain channel) holds it back for clockPatience at most.

// clockPatience is long because a body that runs but is not scheduled (a
// loaded machine, the race detector, a GC) looks the same as one blocked on
// a plain channel: at 1 s, a body starved between a Sleep and its Await saw
// the clock jump and the sleep done.  No test relies on the patience.
const (
	clockPatience = 10 * time.Second
	clockNap      = 5 * time.Millisecond
)

// park marks the body of g waiting; token says on what (an outcome, or the
// task's request token).
func (l *Loop) park(g *goTask, token *outcome) {
	g.parkedOn.Store(token)
	if l.busy.Add(-1) <= 0 {
		l.signalClock()
	}
}

// unpark counts g busy again if it still waits on token.
func (l *Loop) unpark(g *goTask, token *outcome) {
	if g.parkedOn.CompareAndSwap(token, nil) {
		l.busy.Add(1)
	}
}

func (l *Loop) signalClock() {
	select {
	case l.vsig <- struct{}{}:
	default:
	}
}

// parkOn registers g (a body about to wait for out) with out; false if out
// is settled already (then g does not wait).
func (l *Loop) parkOn(g *goTask, out *outcome) bool {
	out.vmu.Lock()
	defer out.vmu.Unlock()
	if out.settled {
		return false
	}
	out.parked = append(out.parked, g)
	l.park(g, out)
	return true
}

// unparkAll counts busy the bodies waiting for out (loop thread, settle).
func (l *Loop) unparkAll(out *outcome) {
	out.vmu.Lock()
	out.settled = true
	for _, g := range out.parked {
		l.unpark(g, out)
	}
	out.parked = nil
	out.vmu.Unlock()
}

// holdClock runs at the end of every hook of a virtual loop: while bodies
// run, keep the clock from jumping.  After an iteration that did something
// it returns at once (what it did may have readied work, a cancel's step
// say, that a body waits for); after a quiet one it waits a little for the
// bodies (clockNap), then lets the loop go round again, so that work a
// body hands to weft directly (a wake) is taken too.  Only after
// clockPatience of quiet rounds in a row does it let the clock move.
func (l *Loop) holdClock(active bool) {
	if l.busy.Load() <= 0 {
		l.quietSince = time.Time{}
		return
	}
	if active {
		l.quietSince = time.Time{}
		c.KeepClock(l.ptr)
		return
	}
	if l.vtimer == nil {
		l.vtimer = time.NewTimer(clockNap)
	} else {
		l.vtimer.Reset(clockNap)
	}
	select {
	case <-l.vsig:
		if !l.vtimer.Stop() {
			<-l.vtimer.C
		}
		l.quietSince = time.Time{}
	case <-l.vtimer.C:
		now := time.Now()
		if l.quietSince.IsZero() {
			l.quietSince = now
		} else if now.Sub(l.quietSince) >= clockPatience {
			l.quietSince = time.Time{}
			return // patience is over: let the clock move
		}
	}
	if l.busy.Load() > 0 {
		c.KeepClock(l.ptr)
	}
}
