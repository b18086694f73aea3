package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration encoded in JSON as a Go duration string
// ("90s"). The string "none" decodes to an infinite duration ([Duration.IsNone]);
// it is accepted only where a field's documentation allows it (MTTF, MTTR,
// restart_after). Invalid input is not rejected while decoding but by
// [Scenario.Validate], so that the error can name the field.
type Duration struct {
	time.Duration
	none bool
	bad  string // raw JSON text that did not parse, reported by Validate
}

// D returns a finite Duration.
func D(d time.Duration) Duration { return Duration{Duration: d} }

// None returns the infinite Duration, encoded as "none".
func None() Duration { return Duration{none: true} }

// IsNone reports whether d is "none" (infinite).
func (d Duration) IsNone() bool { return d.none }

// String returns "none" or the Go duration string.
func (d Duration) String() string {
	if d.none {
		return "none"
	}
	return d.Duration.String()
}

// MarshalJSON encodes d as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON decodes a duration string or "none"; anything else is kept
// and reported by Validate.
func (d *Duration) UnmarshalJSON(b []byte) error {
	*d = Duration{}
	var s string
	if bytes.Equal(b, []byte("null")) || json.Unmarshal(b, &s) != nil {
		d.bad = string(b)
		return nil
	}
	if s == "none" {
		d.none = true
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.bad = string(b)
		return nil
	}
	d.Duration = v
	return nil
}

// check validates d for a field: allowNone permits "none"; finite values
// must lie in [min, max].
func (d Duration) check(field string, allowNone bool, min, max time.Duration) error {
	switch {
	case d.bad != "":
		return fieldErr(field, "invalid duration %s (want a Go duration string such as \"90s\"%s)", d.bad, noneHint(allowNone))
	case d.none && !allowNone:
		return fieldErr(field, "\"none\" is not allowed here")
	case d.none:
		return nil
	case d.Duration < min:
		return fieldErr(field, "%v is below the minimum %v", d.Duration, min)
	case d.Duration > max:
		return fieldErr(field, "%v exceeds the maximum %v", d.Duration, max)
	}
	return nil
}

func noneHint(allowNone bool) string {
	if allowNone {
		return " or \"none\""
	}
	return ""
}

// FieldError is a validation error naming the offending field by its JSON
// path (e.g. "profiles[1].mttf"). It wraps [ErrInvalidScenario].
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("scenario: field %q: %s", e.Field, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalidScenario) true.
func (e *FieldError) Unwrap() error { return ErrInvalidScenario }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
