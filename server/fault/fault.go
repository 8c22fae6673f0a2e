// Package fault classifies the errors of every domain once. Domain and store
// code return *fault.Error values (or wrap them); the HTTP layer maps each Kind
// to a status and a schemaErrorType body in exactly one place.
package fault

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the class of an error, independent of transport.
type Kind int

const (
	// KindInternal is anything unexpected; its detail is logged, never shown.
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
	KindRateLimited
	KindUnavailable
	KindNotImplemented
	// KindClientGone is a client that disconnected; nobody reads the answer.
	KindClientGone
	// KindTimeout is a client too slow to send its request within the
	// server's read timeout; it may still read the answer.
	KindTimeout
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindTooLarge:
		return "too_large"
	case KindRateLimited:
		return "rate_limited"
	case KindUnavailable:
		return "unavailable"
	case KindNotImplemented:
		return "not_implemented"
	case KindClientGone:
		return "client_gone"
	case KindTimeout:
		return "timeout"
	default:
		return "internal"
	}
}

// FieldError is one broken rule of one input field.
type FieldError struct {
	// Field is the path of the field as the client wrote it, for example
	// `metadata.labels["team"]` or `query parameter label_filter`.
	Field string
	// Rule names the rule that is broken, for example `pattern` or `required`.
	Rule string
	// Detail says what the rule wants, for a human.
	Detail string
}

func (f FieldError) String() string {
	if f.Rule == "" {
		return f.Field + ": " + f.Detail
	}
	return fmt.Sprintf("%s: %s (%s)", f.Field, f.Detail, f.Rule)
}

// Error is a classified error.
type Error struct {
	Kind    Kind
	Message string
	// Fields lists every broken field rule of an invalid input.
	Fields []FieldError
	// RetryAfter is set on KindRateLimited and KindUnavailable when known.
	RetryAfter time.Duration
	// Err is the underlying cause, logged but never shown to clients.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.String()
		}
		if msg != "" {
			msg += ": "
		}
		msg += strings.Join(parts, "; ")
	}
	if msg == "" {
		msg = e.Kind.String()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Detail is the error with its cause, for logs (never for clients).
func Detail(err error) string {
	var fe *Error
	if errors.As(err, &fe) && fe.Err != nil {
		return fe.Error() + ": " + Detail(fe.Err)
	}
	return err.Error()
}

// Is lets errors.Is(err, fault.ErrNotFound) and friends match on the kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && len(t.Fields) == 0 && t.Kind == e.Kind
}

// Sentinels for errors.Is; they match any *Error of the same kind.
var (
	ErrInvalid         = &Error{Kind: KindInvalid}
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated}
	ErrForbidden       = &Error{Kind: KindForbidden}
	ErrNotFound        = &Error{Kind: KindNotFound}
	ErrConflict        = &Error{Kind: KindConflict}
	ErrRateLimited     = &Error{Kind: KindRateLimited}
	ErrUnavailable     = &Error{Kind: KindUnavailable}
	ErrNotImplemented  = &Error{Kind: KindNotImplemented}
)

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Invalidf reports bad input that is not tied to one field.
func Invalidf(format string, args ...any) *Error { return newf(KindInvalid, format, args...) }

// NotFoundf reports a missing object (also used for other tenants' objects).
func NotFoundf(format string, args ...any) *Error { return newf(KindNotFound, format, args...) }

// Conflictf reports a request that conflicts with the current state.
func Conflictf(format string, args ...any) *Error { return newf(KindConflict, format, args...) }

// Forbiddenf reports a caller that may not do what it asked.
func Forbiddenf(format string, args ...any) *Error { return newf(KindForbidden, format, args...) }

// Unauthenticatedf reports a missing or bad credential.
func Unauthenticatedf(format string, args ...any) *Error {
	return newf(KindUnauthenticated, format, args...)
}

// Unavailable reports that a dependency (the database) cannot be reached.
func Unavailable(cause error) *Error {
	return &Error{Kind: KindUnavailable, Message: "service temporarily unavailable", Err: cause, RetryAfter: time.Second}
}

// Internal wraps an unexpected error; the cause is logged, never shown.
func Internal(cause error) *Error { return &Error{Kind: KindInternal, Err: cause} }

// KindOf classifies any error; unclassified errors are internal.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return KindInternal
}

// MaxFields caps how many broken rules one answer lists; its message says
// how many more there were.
const MaxFields = 50

// Invalid is the one invalid-input error for a list of broken rules, from
// whichever layer found them (the request validator or a domain's checks):
// the fields ordered by their path, numbers compared as numbers (records[2]
// before records[10]), at most MaxFields of them. cause is kept for the log
// only.
func Invalid(fields []FieldError, cause error) error {
	fields = slices.Clone(fields)
	slices.SortStableFunc(fields, func(a, b FieldError) int {
		switch {
		case naturalLess(a.Field, b.Field):
			return -1
		case naturalLess(b.Field, a.Field):
			return 1
		}
		return 0
	})
	msg := "invalid request"
	if len(fields) > MaxFields {
		msg = fmt.Sprintf("invalid request (%d more problems not listed)", len(fields)-MaxFields)
		fields = fields[:MaxFields]
	}
	return &Error{Kind: KindInvalid, Message: msg, Fields: fields, Err: cause}
}

// InvalidField is the invalid-input error of one broken rule of one field.
func InvalidField(field, rule, detail string) error {
	return Invalid([]FieldError{{Field: field, Rule: rule, Detail: detail}}, nil)
}

// Violations collects field errors so one answer lists everything wrong.
type Violations struct {
	fields []FieldError
}

// Add records one broken rule.
func (v *Violations) Add(field, rule, detail string) {
	v.fields = append(v.fields, FieldError{Field: field, Rule: rule, Detail: detail})
}

// Len is the number of recorded violations.
func (v *Violations) Len() int { return len(v.fields) }

// Err returns nil when nothing was recorded, else the Invalid error listing
// the violations.
func (v *Violations) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return Invalid(v.fields, nil)
}

// naturalLess orders field paths with their numbers compared as numbers,
// so records[2] comes before records[10].
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// Key renders a map key inside a field path, as in
// spec.object_limits[origin_pool].maximum; keys that could be misread (or
// hold unprintable bytes) are quoted.
func Key(k string) string {
	if k != "" && !strings.ContainsAny(k, "[].\"' ") && strconv.Quote(k) == `"`+k+`"` {
		return "[" + k + "]"
	}
	return "[" + strconv.Quote(k) + "]"
}

// ClientGone reports a client that went away before its request was read
// or answered; it is logged, never counted as a server failure.
func ClientGone(cause error) *Error {
	return &Error{Kind: KindClientGone, Message: "client closed the request", Err: cause}
}

// Timeout reports a request whose body did not arrive within the server's
// read timeout.
func Timeout(cause error) *Error {
	return &Error{Kind: KindTimeout, Message: "the request body did not arrive within the server's read timeout", Err: cause}
}
