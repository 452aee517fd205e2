package collab

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code from SPEC.md; the edge maps it onto
// Socket.IO acks ({ok:false, error:{code, message}}) and HTTP statuses.
type Code string

// Error codes. CodeConflict and CodePreconditionFailed are REST-only extras
// (HTTP 409 and 412).
const (
	CodeBadRequest         Code = "bad_request"         // 400
	CodeInvalidOp          Code = "invalid_op"          // 400
	CodeNotFound           Code = "not_found"           // 404
	CodeNotJoined          Code = "not_joined"          // 403 (socket only)
	CodeVersionAhead       Code = "version_ahead"       // 400
	CodeVersionTooOld      Code = "version_too_old"     // 400 (410 is also fitting)
	CodeTooLarge           Code = "too_large"           // 413
	CodeForbidden          Code = "forbidden"           // 403
	CodeUnauthorized       Code = "unauthorized"        // 401
	CodeRateLimited        Code = "rate_limited"        // 429; also used when a document has MaxCollaborators
	CodeInternal           Code = "internal"            // 500
	CodeConflict           Code = "conflict"            // 409: create with an id that exists
	CodePreconditionFailed Code = "precondition_failed" // 412: If-Match does not match the version
)

// Codes returns every error code, for metrics labels.
func Codes() []Code {
	return []Code{CodeBadRequest, CodeInvalidOp, CodeNotFound, CodeNotJoined, CodeVersionAhead,
		CodeVersionTooOld, CodeTooLarge, CodeForbidden, CodeUnauthorized, CodeRateLimited,
		CodeInternal, CodeConflict, CodePreconditionFailed}
}

// Error is an error with a SPEC.md code and a human-readable message.
type Error struct {
	Code    Code
	Message string
	// Reason refines a code for clients that act on it (e.g. "deleted" on
	// not_found for a document that was deleted); usually empty.
	Reason string
}

// ReasonDeleted is the Reason of not_found for a deleted document.
const ReasonDeleted = "deleted"

func (e *Error) Error() string {
	if e.Message == "" {
		return "collab: " + string(e.Code)
	}
	return "collab: " + string(e.Code) + ": " + e.Message
}

// CodeOf returns the Code of err: the code of the first *Error in its chain,
// CodeNotFound for ErrDocNotFound, CodeConflict for ErrDocExists, CodeInternal
// for any other error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, ErrDocNotFound):
		return CodeNotFound
	case errors.Is(err, ErrDocExists):
		return CodeConflict
	}
	return CodeInternal
}

// Sentinels a Store returns (possibly wrapped).
var (
	// ErrDocNotFound: the document does not exist.
	ErrDocNotFound = errors.New("collab: document not found")
	// ErrDocExists: CreateDoc with an id that exists.
	ErrDocExists = errors.New("collab: document exists")
	// ErrClosed: the Hub is closed.
	ErrClosed = &Error{Code: CodeInternal, Message: "hub is closed"}
)

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// storeErr converts an error from the Store into a collab error, keeping
// *Error values and mapping the sentinels.
func storeErr(op, doc string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, ErrDocNotFound):
		return errorf(CodeNotFound, "document %q not found", doc)
	case errors.Is(err, ErrDocExists):
		return errorf(CodeConflict, "document %q already exists", doc)
	}
	return &Error{Code: CodeInternal, Message: fmt.Sprintf("%s %q: %v", op, doc, err)}
}
