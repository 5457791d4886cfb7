package app

import (
	"errors"
	"fmt"
)

// The kinds of failure the use cases report to their callers, for errors.Is. The edges map them, and only them:
// ErrInvalid to a usage error (CLI exit 2) or HTTP 400, ErrNotFound to exit 3 or HTTP 404; anything else is a
// failure (exit 1, HTTP 500). Their texts are written for people and carry no package name, because they end up
// in messages as they are.
var (
	// ErrInvalid: a value the caller gave cannot be used. Parsers at the edges return it as an *InputError.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: the grant asked for is not recorded (or is only a hidden tombstone).
	ErrNotFound = errors.New("not found")
	// ErrBadCursor: a page position that does not belong to the query. Stores return it for positions outside the
	// query's partition or range. It is also ErrInvalid.
	ErrBadCursor error = &subKind{text: "invalid cursor", parent: ErrInvalid}
)

// subKind is an error kind that is also a broader one.
type subKind struct {
	text   string
	parent error
}

func (k *subKind) Error() string { return k.text }
func (k *subKind) Unwrap() error { return k.parent }

// InputError is a value a caller gave that cannot be used, in the manner of *fs.PathError: the field as the caller
// named it (a flag, a query parameter, an event field), the value as given, and the problem. It is an ErrInvalid,
// and also its Kind when one is set.
type InputError struct {
	Field   string // "--active-at", "activeAt", "limit"; empty when the problem is not one field's
	Value   string // as given; empty when there is none
	Problem string // for people, e.g. "is not an RFC 3339 time such as 2024-06-01T00:00:00Z"
	Kind    error  // a narrower kind of ErrInvalid (ErrBadBackfill, ErrBadCursor); nil for ErrInvalid alone
}

// Error reads `field "value" problem`, or `field problem` when there is no value, or the problem alone.
func (e *InputError) Error() string {
	switch {
	case e.Field == "":
		return e.Problem
	case e.Value == "":
		return e.Field + " " + e.Problem
	}
	return fmt.Sprintf("%s %q %s", e.Field, e.Value, e.Problem)
}

// Unwrap returns the kind: Kind when set (itself an ErrInvalid), else ErrInvalid.
func (e *InputError) Unwrap() error {
	if e.Kind != nil {
		return e.Kind
	}
	return ErrInvalid
}

// ErrCouldNotAssume marks an account whose credentials could not be had: its member role is missing, does not trust
// the caller, or STS failed. Nothing in that account was checked, which is never reported as "nothing there".
var ErrCouldNotAssume = errors.New("could not assume the account's member role")
