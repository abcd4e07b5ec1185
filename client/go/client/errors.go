package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a failed call: the gRPC status code and the server's own message. Test what
// kind of failure it was with errors.Is and the sentinels below, e.g.
// errors.Is(err, client.ErrInvalidInput).
type Error struct {
	Code    codes.Code
	Message string
	// RecordOffset: when a large input was split into several calls, the index in the
	// caller's input of the first record of the call that failed.
	RecordOffset int
	kind         error
}

func (e *Error) Error() string {
	where := ""
	if e.RecordOffset > 0 {
		where = fmt.Sprintf(" (in the call starting at record %d)", e.RecordOffset)
	}
	return CodeName(e.Code) + ": " + e.Message + where
}

// Is makes errors.Is(err, ErrInvalidInput) and the other sentinels work.
func (e *Error) Is(target error) bool { return e.kind != nil && e.kind == target }

// The kinds of failure, as in the Python client's exception classes.
var (
	// ErrInvalidInput: the server refused the input (INVALID_ARGUMENT); the message names
	// the field.
	ErrInvalidInput = errors.New("invalid input")
	// ErrModelNotFound: no such model, version or label (NOT_FOUND); the message names
	// those the server serves.
	ErrModelNotFound = errors.New("model not found")
	// ErrUnauthenticated: the edge wants a valid bearer token (UNAUTHENTICATED).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the token is valid but not for this service.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrRateLimited: refused for load (a rate or concurrency limit); wait and retry.
	ErrRateLimited = errors.New("rate limited")
	// ErrMessageTooLarge: a message was over a size limit; send fewer records per call.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrUnavailable: the server could not be reached (UNAVAILABLE).
	ErrUnavailable = errors.New("unavailable")
	// ErrDeadlineExceeded: the call did not finish within its deadline.
	ErrDeadlineExceeded = errors.New("deadline exceeded")
)

var (
	sizeMessage      = regexp.MustCompile(`(?i)larger than max|too large`)
	rateLimitMessage = regexp.MustCompile(`(?i)rate[ _-]?limit`)
)

func kindOf(code codes.Code, message string) error {
	switch code {
	case codes.InvalidArgument:
		return ErrInvalidInput
	case codes.NotFound:
		return ErrModelNotFound
	case codes.Unauthenticated:
		return ErrUnauthenticated
	case codes.PermissionDenied:
		return ErrPermissionDenied
	case codes.DeadlineExceeded:
		return ErrDeadlineExceeded
	case codes.ResourceExhausted:
		if sizeMessage.MatchString(message) {
			return ErrMessageTooLarge
		}
		return ErrRateLimited
	case codes.Unavailable:
		if rateLimitMessage.MatchString(message) {
			return ErrRateLimited
		}
		return ErrUnavailable
	}
	return nil
}

// fromRPC turns a gRPC error into an *Error.
func fromRPC(err error, recordOffset int) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	message := statusMessage(st.Message())
	return &Error{Code: st.Code(), Message: message, RecordOffset: recordOffset, kind: kindOf(st.Code(), message)}
}

// NewError is an *Error for a failure found on this side (e.g. the model changed
// between the calls of one input).
func NewError(code codes.Code, message string) *Error {
	return &Error{Code: code, Message: message, kind: kindOf(code, message)}
}

// statusMessage: Envoy's own replies (a missing token, a rate limit) can reach gRPC callers
// with its JSON error body as the message; the words are its "message".
func statusMessage(details string) string {
	if !strings.HasPrefix(details, "{") {
		return details
	}
	var body map[string]interface{}
	if json.Unmarshal([]byte(details), &body) != nil {
		return details
	}
	if message, ok := body["message"].(string); ok {
		return message
	}
	return details
}

// CodeName is a status code as the other clients print it, e.g. INVALID_ARGUMENT.
func CodeName(code codes.Code) string {
	if name, ok := codeNames[code]; ok {
		return name
	}
	return fmt.Sprintf("CODE_%d", uint32(code))
}

var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}
