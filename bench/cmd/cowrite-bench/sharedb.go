package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cowrite/cowrite/bench/internal/ws"
	"github.com/cowrite/cowrite/collab/ot"
)

// ShareDB's wire protocol (JSON over one WebSocket): the server sends
// {"a":"init",…}; the client sends {"a":"hs","id":null} and gets
// {"a":"hs","id":<src>}; {"a":"s",c,d} subscribes and is answered with the
// snapshot {"a":"s",c,d,"data":{"v","data","type"}}; an op is
// {"a":"op",c,d,"v":<base version>,"src","seq","op"}, acked by the same
// message without "op", and broadcast to other subscribers with "op".
// ShareDB versions count the create op: a snapshot at v has v ops applied
// including the create, and an op with "v":x takes it from x to x+1, which
// is the version the editor uses (Cowrite's convention).

const (
	sharedbCollection = "bench"
	sharedbType       = "http://sharejs.org/types/text-unicode"
)

type sdbMsg struct {
	A     string          `json:"a"`
	C     string          `json:"c"`
	D     string          `json:"d"`
	V     *uint64         `json:"v"`
	Src   string          `json:"src"`
	Seq   uint64          `json:"seq"`
	ID    string          `json:"id"`
	Op    json.RawMessage `json:"op"`
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type sdbSnapshot struct {
	V    uint64  `json:"v"`
	Data *string `json:"data"`
	Type *string `json:"type"`
}

type sdbConn struct {
	ws  *ws.Conn
	src string
}

func (c *sdbConn) write(b []byte) error { return c.ws.WriteText(b) }

// readJSON reads the next message into m (before the connection is
// started).
func (c *sdbConn) readJSON(deadline time.Time, m *sdbMsg) error {
	_, b, err := c.ws.ReadMessage(deadline)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, m)
}

// dialShareDB connects and completes the handshake.
func dialShareDB(ctx context.Context, base string) (*sdbConn, error) {
	u, err := wsURL(base, "")
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w, err := ws.Dial(dctx, u)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	deadline, _ := dctx.Deadline()
	c := &sdbConn{ws: w}
	if err := c.write([]byte(`{"a":"hs","id":null}`)); err != nil {
		w.Close()
		return nil, err
	}
	for {
		var m sdbMsg
		if err := c.readJSON(deadline, &m); err != nil {
			w.Close()
			return nil, fmt.Errorf("sharedb handshake: %w", err)
		}
		if m.A == "hs" {
			if m.Error != nil || m.ID == "" {
				w.Close()
				return nil, fmt.Errorf("sharedb handshake refused: %+v", m.Error)
			}
			c.src = m.ID
			return c, nil
		}
	}
}

// createShareDB creates doc with content (ignoring "already created").
func createShareDB(ctx context.Context, base, doc, content string) error {
	c, err := dialShareDB(ctx, base)
	if err != nil {
		return err
	}
	defer c.ws.Close()
	b := []byte(`{"a":"op","c":"` + sharedbCollection + `","d":`)
	b = appendJSONString(b, doc)
	b = append(b, `,"v":0,"seq":1,"src":`...)
	b = appendJSONString(b, c.src)
	b = append(b, `,"create":{"type":"`+sharedbType+`","data":`...)
	b = appendJSONString(b, content)
	b = append(b, `}}`...)
	if err := c.write(b); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var m sdbMsg
		if err := c.readJSON(deadline, &m); err != nil {
			return fmt.Errorf("sharedb create %s: %w", doc, err)
		}
		if m.A == "op" && m.D == doc {
			if m.Error != nil && fmt.Sprint(m.Error.Code) != "ERR_DOC_ALREADY_CREATED" {
				return fmt.Errorf("sharedb create %s: %v %s", doc, m.Error.Code, m.Error.Message)
			}
			return nil
		}
	}
}

func (s *session) connectShareDB(ctx context.Context, base, content string) error {
	for _, r := range s.rooms {
		if err := createShareDB(ctx, base, r.doc, content); err != nil {
			return err
		}
		for _, e := range r.editors {
			c, err := dialShareDB(ctx, base)
			if err != nil {
				return err
			}
			s.closes = append(s.closes, c.ws.Close)
			e := e
			doc := r.doc
			prefix := []byte(`{"a":"op","c":"` + sharedbCollection + `","d":`)
			prefix = appendJSONString(prefix, doc)
			prefix = append(prefix, `,"src":`...)
			prefix = appendJSONString(prefix, c.src)
			e.submit = func(ver, seq uint64, op []byte) error {
				return c.ws.WriteFrame(ws.OpText, func(b []byte) []byte {
					b = append(b, prefix...)
					b = append(b, `,"v":`...)
					b = strconv.AppendUint(b, ver, 10)
					b = append(b, `,"seq":`...)
					b = strconv.AppendUint(b, seq, 10)
					b = append(b, `,"op":`...)
					b = append(b, op...)
					return append(b, '}')
				})
			}
			err = c.ws.Start(func(_ byte, b []byte) {
				if bytes.HasPrefix(b, []byte(`{"a":"op",`)) && bytes.Index(b, []byte(`"error"`)) < 0 {
					v, ok1 := fieldInt(b, `"v":`)
					src, ok2 := fieldString(b, `"src":`)
					if ok1 && ok2 && v >= 0 {
						raw, hasOp := fieldArray(b, `"op":`)
						if string(src) == c.src && !hasOp {
							e.acked(uint64(v) + 1)
							return
						}
						if hasOp {
							op, err := ot.Parse(raw)
							if err != nil {
								e.fail("sharedb op: %v", err)
								return
							}
							e.remote(uint64(v)+1, op)
							return
						}
					}
				}
				var m sdbMsg
				if err := json.Unmarshal(b, &m); err != nil {
					e.fail("sharedb message: %v", err)
					return
				}
				switch {
				case m.Error != nil:
					e.fail("sharedb %s: %v %s", m.A, m.Error.Code, m.Error.Message)
				case m.A == "s":
					var snap sdbSnapshot
					if err := json.Unmarshal(m.Data, &snap); err != nil || snap.Data == nil {
						e.fail("sharedb subscribe %s: bad snapshot %.100s", doc, m.Data)
						return
					}
					e.joinedAt(snap.V, *snap.Data)
				case m.A == "op" && m.V != nil:
					if m.Src == c.src && len(m.Op) == 0 {
						e.acked(*m.V + 1)
						return
					}
					op, err := ot.Parse(m.Op)
					if err != nil {
						e.fail("sharedb op: %v", err)
						return
					}
					e.remote(*m.V+1, op)
				}
			})
			if err != nil {
				return err
			}
			sub := []byte(`{"a":"s","c":"` + sharedbCollection + `","d":`)
			sub = appendJSONString(sub, doc)
			if err := c.write(append(sub, '}')); err != nil {
				return err
			}
		}
	}
	return nil
}
