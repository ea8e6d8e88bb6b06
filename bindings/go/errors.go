package weft

import (
	"context"
	"errors"
	"fmt"

	c "weft.local/weft/internal/cweft"
)

// Error is a weft error code (enum weft_errno) with an optional message.  Two
// Errors match under errors.Is when their codes are equal, so
// errors.Is(err, weft.ErrCancelled) holds for every cancellation whatever its
// message.  A cancellation also matches context.Canceled and a timeout
// context.DeadlineExceeded, so code written for contexts keeps working.
type Error struct {
	Code    int    // negative weft_errno value, e.g. -125 for ECANCELED
	Message string // the future's error or cancel message ("" if none)
}

func (e *Error) Error() string {
	s := "weft: " + c.Err_name(e.Code) + ": " + c.Strerror(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Name is the code's symbolic name without the WEFT_ prefix ("ECANCELED").
func (e *Error) Name() string { return c.Err_name(e.Code) }

// Is matches another *Error with the same code, and the context errors for
// cancellation and timeout.
func (e *Error) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Code == codeCancelled
	case context.DeadlineExceeded:
		return e.Code == codeTimeout
	}
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

var (
	codeCancelled = int(c.ECANCELED)
	codeTimeout   = int(c.ETIMEDOUT)
	codeUnhandled = int(c.EUNHANDLED)
	codePending   = int(c.EPENDING)
	codeClosed    = int(c.ECLOSED)
	codeBusy      = int(c.EBUSY)
	codeObjClosed = int(c.EOBJCLOSED)
)

// Sentinels for errors.Is.  Every one is an *Error without a message.
var (
	ErrCancelled = &Error{Code: codeCancelled}     // cancelled (ECANCELED)
	ErrTimeout   = &Error{Code: codeTimeout}       // timed out (ETIMEDOUT)
	ErrClosed    = &Error{Code: codeClosed}        // the loop is closed (ECLOSED)
	ErrPending   = &Error{Code: codePending}       // the future is not done (EPENDING)
	ErrState     = &Error{Code: int(c.ESTATE)}     // invalid state (ESTATE), e.g. set twice
	ErrInvalid   = &Error{Code: int(c.EINVAL)}     // invalid argument (EINVAL)
	ErrType      = &Error{Code: int(c.ETYPE)}      // the result has another type (ETYPE)
	ErrThread    = &Error{Code: int(c.ETHREAD)}    // wrong thread (ETHREAD)
	ErrRunning   = &Error{Code: int(c.ERUNNING)}   // the loop is running (ERUNNING)
	ErrBusy      = &Error{Code: codeBusy}          // tasks refused to end (EBUSY)
	ErrDeadlock  = &Error{Code: int(c.EDEADLOCK)}  // nothing could complete it (EDEADLOCK)
	ErrUnhandled = &Error{Code: codeUnhandled}     // failed without a weft code (EUNHANDLED)
	ErrAwaitSelf = &Error{Code: int(c.EAWAITSELF)} // a task awaited itself (EAWAITSELF)
	ErrOtherLoop = &Error{Code: int(c.EOTHERLOOP)} // object of another loop (EOTHERLOOP)
	ErrNoMemory  = &Error{Code: int(c.ENOMEM)}     // out of memory (ENOMEM)
	ErrObjClosed = &Error{Code: codeObjClosed}     // the file, socket or watcher was closed (EOBJCLOSED)
)

// errorOf turns a weft return code into an error (nil for codes >= 0).
func errorOf(code int) error {
	if code >= 0 {
		return nil
	}
	return &Error{Code: code}
}

// lastError is weft_last_error() as an error, for NULL-returning calls.
func lastError() error {
	if err := errorOf(c.Last_error()); err != nil {
		return err
	}
	return ErrUnhandled
}

// Code is the weft error code that err stands for: its own if it is (or
// wraps) an *Error, ECANCELED for context.Canceled, ETIMEDOUT for
// context.DeadlineExceeded, EUNHANDLED for any other error, 0 for nil.  It
// is the code C sees when a Go task fails with err.
func Code(err error) int {
	var e *Error
	var ge *GroupError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ge):
		return int(c.EGROUP)
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled):
		return codeCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return codeTimeout
	}
	return codeUnhandled
}

func isCancellation(err error) bool {
	return err != nil && Code(err) == codeCancelled
}

// PanicError is the error of a task or callback whose Go code panicked: the
// panic was recovered (it never unwinds through C) and failed the task.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func (p *PanicError) Error() string { return fmt.Sprintf("weft: panic: %v", p.Value) }

// Is makes errors.Is(err, ErrUnhandled) hold for panics (C sees EUNHANDLED).
func (p *PanicError) Is(target error) bool { return target == ErrUnhandled }

// Version is the version string of the loaded libweft ("0.1.0").
func Version() string { return c.Version_string() }

// VersionHex is weft_version(): (major << 16) | (minor << 8) | patch.
func VersionHex() uint { return c.Version() }
