package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
)

// wireError is the JSON shape of every error, in REST bodies
// ({"error": wireError}) and in Socket.IO acks ({"ok": false, "error": wireError}).
type wireError struct {
	Code    collab.Code `json:"code"`
	Message string      `json:"message"`
	Reason  string      `json:"reason,omitempty"` // collab.Error.Reason, e.g. "deleted"
}

// errorBody is the JSON body of a failed REST request.
type errorBody struct {
	Error wireError `json:"error"`
}

// failAck is the ack of a failed Socket.IO event.
type failAck struct {
	OK    bool      `json:"ok"`
	Error wireError `json:"error"`
}

// badRequest returns a collab error with code bad_request.
func badRequest(msg string) error {
	return &collab.Error{Code: collab.CodeBadRequest, Message: msg}
}

// invalidOp returns a collab error with code invalid_op.
func invalidOp(msg string) error {
	return &collab.Error{Code: collab.CodeInvalidOp, Message: msg}
}

// authorize checks action on doc for id; without Options.Auth everything is
// allowed. The error is a *collab.Error (forbidden).
func (a *API) authorize(id *auth.Identity, action auth.Action, doc string) error {
	if a.opts.Auth == nil {
		return nil
	}
	if err := id.Authorize(action, doc); err != nil {
		code, _, _ := auth.Status(err)
		if code == "" {
			code = string(collab.CodeForbidden)
		}
		return &collab.Error{Code: collab.Code(code), Message: strings.TrimPrefix(err.Error(), "auth: ")}
	}
	return nil
}

// toWire maps any error onto the wire shape. Errors that are not a
// *collab.Error become "internal" with a generic message, so that internal
// details (paths, storage errors) never leak to clients; the caller logs them.
func toWire(err error) wireError {
	code := collab.CodeOf(err)
	if code == collab.CodeInternal || code == "" {
		return wireError{Code: collab.CodeInternal, Message: "internal server error"}
	}
	var ce *collab.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return wireError{Code: code, Message: ce.Message, Reason: ce.Reason}
	}
	return wireError{Code: code, Message: strings.TrimPrefix(err.Error(), "collab: ")}
}

// httpStatus maps an error code onto an HTTP status.
//
//	bad_request, invalid_op, version_ahead, version_too_old → 400
//	unauthorized → 401, forbidden, not_joined → 403, not_found → 404
//	conflict → 409, precondition_failed → 412
//	too_large → 413, rate_limited → 429, anything else → 500
func httpStatus(code collab.Code) int {
	switch code {
	case collab.CodeBadRequest, collab.CodeInvalidOp, collab.CodeVersionAhead, collab.CodeVersionTooOld:
		return http.StatusBadRequest
	case collab.CodeUnauthorized:
		return http.StatusUnauthorized
	case collab.CodeForbidden, collab.CodeNotJoined:
		return http.StatusForbidden
	case collab.CodeNotFound:
		return http.StatusNotFound
	case collab.CodeConflict:
		return http.StatusConflict
	case collab.CodePreconditionFailed:
		return http.StatusPreconditionFailed
	case collab.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case collab.CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}
