package engine

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cowrite/cowrite/internal/jsonstr"
)

// ErrorCode is an Engine.IO HTTP error code, sent as {"code":N,"message":"…"}.
type ErrorCode int

// The Engine.IO error codes (engine.io 6.x Server.errors).
const (
	CodeUnknownTransport           ErrorCode = 0
	CodeUnknownSID                 ErrorCode = 1
	CodeBadHandshakeMethod         ErrorCode = 2
	CodeBadRequest                 ErrorCode = 3
	CodeForbidden                  ErrorCode = 4
	CodeUnsupportedProtocolVersion ErrorCode = 5
)

// Message returns the engine.io message of the code.
func (c ErrorCode) Message() string {
	switch c {
	case CodeUnknownTransport:
		return "Transport unknown"
	case CodeUnknownSID:
		return "Session ID unknown"
	case CodeBadHandshakeMethod:
		return "Bad handshake method"
	case CodeBadRequest:
		return "Bad request"
	case CodeForbidden:
		return "Forbidden"
	case CodeUnsupportedProtocolVersion:
		return "Unsupported protocol version"
	}
	return fmt.Sprintf("error %d", int(c))
}

// Error is a request refused by the Engine.IO server; it is written to the
// client as JSON with Status as the HTTP status.
type Error struct {
	Code    ErrorCode
	Message string
	status  int // the HTTP status, when not the code's
}

func newError(code ErrorCode) *Error { return &Error{Code: code, Message: code.Message()} }

// errorAtCapacity refuses a handshake beyond Options.MaxSessions: 503, with
// code 3 (engine.io has no code of its own for it; clients retry a failed
// handshake with their reconnection back-off).
func errorAtCapacity() *Error {
	return &Error{Code: CodeBadRequest, Message: "Server at capacity", status: http.StatusServiceUnavailable}
}

func (e *Error) Error() string {
	return fmt.Sprintf("engine: %s (code %d)", e.Message, int(e.Code))
}

// Status is the HTTP status that carries the error: 403 for Forbidden, 503
// for a server at capacity, 400 otherwise.
func (e *Error) Status() int {
	if e.status != 0 {
		return e.status
	}
	if e.Code == CodeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// body is the JSON body {"code":N,"message":"…"}.
func (e *Error) body() []byte {
	b := strconv.AppendInt([]byte(`{"code":`), int64(e.Code), 10)
	b = append(b, `,"message":`...)
	return append(jsonstr.Append(b, e.Message), '}')
}

var (
	// ErrClosed is returned by Send on a closed session.
	ErrClosed = errors.New("engine: session closed")
	// ErrSlowConsumer is returned by Send when the outbound queue overflowed;
	// the session has been closed with reason "slow consumer".
	ErrSlowConsumer = errors.New("engine: slow consumer")

	errEmptyPacket   = errors.New("engine: empty packet")
	errPacketType    = errors.New("engine: unknown packet type")
	errBase64        = errors.New("engine: invalid base64 binary packet")
	errEmptyPayload  = errors.New("engine: empty payload")
	errPayloadFormat = errors.New("engine: malformed payload")
)

// Close reasons passed to OnClose, as in engine.io.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
	ReasonServerShutdown = "server shutting down"
	ReasonSlowConsumer   = "slow consumer"
)
