package main

import (
	"errors"
	"fmt"

	"github.com/grantwatch/grantwatch/pkg/app"
)

// Exit codes. 0, 1 and 2 are the replay contract's (grant-lifecycle.md §9); 3 lets scripts tell "not recorded"
// from a failure.
const (
	exitOK       = 0
	exitFailure  = 1 // an AWS error, a missing table; for replay: something was rejected, the rest was processed
	exitRejected = exitFailure
	exitUsage    = 2
	exitNotFound = 3
)

// exitError carries an exit code and a message for people out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &exitError{code: exitNotFound, err: fmt.Errorf(format, args...)}
}

// explain gives an error that reached main its message and exit code. Commands translate AWS errors themselves
// (session.fail), where they know the table and the endpoint; this is for what is left.
func explain(err error) (string, int) {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.Error(), ee.code
	case errors.Is(err, app.ErrInvalid):
		return err.Error(), exitUsage
	case errors.Is(err, app.ErrNotFound):
		return err.Error(), exitNotFound
	}
	return err.Error(), exitFailure
}
