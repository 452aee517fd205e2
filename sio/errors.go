package sio

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by the package.
var (
	// ErrClosed is returned when emitting on a socket that is no longer connected.
	ErrClosed = errors.New("sio: socket closed")
	// ErrAckTimeout is returned when a client did not acknowledge an event in time.
	ErrAckTimeout = errors.New("sio: ack timeout")
	// ErrReservedEvent is returned when emitting an event name reserved by the protocol.
	ErrReservedEvent = errors.New("sio: reserved event name")
	// ErrAckUsed is returned when an AckFunc is called a second time.
	ErrAckUsed = errors.New("sio: ack already sent")
	// ErrArgIndex is returned when decoding an argument that does not exist.
	ErrArgIndex = errors.New("sio: argument index out of range")
)

// ParseError describes a packet that does not follow the Socket.IO v5 wire format.
// A client that sends one is disconnected (reason "parse error").
type ParseError struct {
	Input string // a prefix of the offending packet, for logs
	Msg   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("sio: parse error: %s (packet %q)", e.Msg, e.Input)
}

func parseErr(input []byte, msg string) error {
	const max = 64
	if len(input) > max {
		input = input[:max]
	}
	return &ParseError{Input: string(input), Msg: msg}
}

// ConnectError refuses a namespace CONNECT when returned by a middleware (see Namespace.Use).
// The client receives a CONNECT_ERROR packet {"message": Message, "data": Data} and its
// "connect_error" handler gets an Error whose message is Message and whose data is Data.
// Any other error returned by a middleware is sent with its Error() text as message.
type ConnectError struct {
	Message string
	Data    any // optional; encoded as JSON; omitted when nil
}

func (e *ConnectError) Error() string { return e.Message }
