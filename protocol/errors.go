package protocol

import (
	"errors"
	"fmt"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Sentinel errors. Decoders wrap them with %w and detail; callers branch on
// them with errors.Is.
var (
	// ErrInvalidLimits: a Limits value is unusable.
	ErrInvalidLimits = errors.New("protocol: invalid limits")
	// ErrMessageTooLarge: a message is over Limits.MaxMessageSize (or the
	// envelope over MaxEnvelopeSize).
	ErrMessageTooLarge = errors.New("protocol: message too large")
	// ErrMalformed: bytes that are not a valid message.
	ErrMalformed = errors.New("protocol: malformed message")
	// ErrOverLimit: a count (CIDs, addresses, results) is over its limit.
	ErrOverLimit = errors.New("protocol: over limit")
	// ErrBadSignature: the announcement envelope's signature does not verify.
	ErrBadSignature = errors.New("protocol: bad signature")
	// ErrSignerMismatch: the envelope was signed by a key other than the
	// announced peer's (or than the announcing leaf's).
	ErrSignerMismatch = errors.New("protocol: signer is not the announcing peer")
	// ErrExpired: the announcement has expired, or expires too far ahead.
	ErrExpired = errors.New("protocol: announcement expired or expiry out of range")
	// ErrBadProof: CIDs that are not the ones a signed announcement covers
	// (a wrong Merkle root or inclusion proof).
	ErrBadProof = errors.New("protocol: CIDs not covered by the signed announcement")

	// Errors a remote peer answered with (see StatusError).
	ErrBadRequest   = errors.New("protocol: remote: bad request")
	ErrRefused      = errors.New("protocol: remote: refused")
	ErrRateLimited  = errors.New("protocol: remote: rate limited")
	ErrOverCapacity = errors.New("protocol: remote: over capacity")
	ErrNotAttached  = errors.New("protocol: remote: not attached")
	ErrInternal     = errors.New("protocol: remote: internal error")
	ErrSteppingDown = errors.New("protocol: remote: supernode stepping down")
)

// StatusError is a non-OK status a remote peer answered with. It matches the
// sentinel for its status with errors.Is.
type StatusError struct {
	Status pb.Status
	Msg    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("remote %s: %s", e.Status, e.Msg)
}

// Is maps the status to its sentinel error.
func (e *StatusError) Is(target error) bool { return statusSentinel(e.Status) == target }

func statusSentinel(s pb.Status) error {
	switch s {
	case pb.Status_BAD_REQUEST:
		return ErrBadRequest
	case pb.Status_REFUSED:
		return ErrRefused
	case pb.Status_RATE_LIMITED:
		return ErrRateLimited
	case pb.Status_OVER_CAPACITY:
		return ErrOverCapacity
	case pb.Status_NOT_ATTACHED:
		return ErrNotAttached
	case pb.Status_STEPPING_DOWN:
		return ErrSteppingDown
	default:
		return ErrInternal
	}
}

// StatusOf returns the status a server should answer err with: BAD_REQUEST
// for decoding and limit errors, REFUSED for signature problems, the status
// of a StatusError, INTERNAL otherwise.
func StatusOf(err error) pb.Status {
	var se *StatusError
	switch {
	case err == nil:
		return pb.Status_OK
	case errors.As(err, &se):
		return se.Status
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrSignerMismatch), errors.Is(err, ErrExpired), errors.Is(err, ErrBadProof):
		return pb.Status_REFUSED
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrOverLimit):
		return pb.Status_BAD_REQUEST
	default:
		return pb.Status_INTERNAL
	}
}

// Truncate cuts an error text to the limit for the wire.
func (l Limits) Truncate(s string) string {
	if len(s) > l.MaxErrorSize {
		return s[:l.MaxErrorSize]
	}
	return s
}

// isDecodeError reports whether err says the bytes were malformed or over a
// limit (as opposed to a signature that did not verify).
func isDecodeError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrOverLimit) || errors.Is(err, ErrMessageTooLarge)
}
