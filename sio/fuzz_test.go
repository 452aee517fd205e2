package sio

import (
	"bytes"
	"testing"
)

// FuzzClient feeds arbitrary Engine.IO messages (split on 0x1e; a leading 'b' marks a
// binary one) to a connection of an echo server: it must never panic, and whatever it
// sends must decode as Socket.IO.
func FuzzClient(f *testing.F) {
	for _, s := range []string{
		"0\x1e2[\"message\",1]\x1e21[\"message-with-ack\",{\"a\":1}]",
		"0\x1e51-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1eb\x01\x02",
		"0/custom,\x1e1/custom,\x1e2/custom,[\"x\"]",
		"0\x1e2[\"join\",\"r\"]\x1e2[\"to-room\",\"r\",1]\x1e2[\"server-ack\",1]\x1e30[2]\x1e2[\"disconnect-me\"]",
		"0/random\x1e0\x1e0",
		"0\x1e2{}",
	} {
		f.Add([]byte(s))
	}
	srv := echoServer(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := newFakeSession("fuzz")
		c := newClient(srv, fs, nil)
		fs.onClose = c.onClose
		defer fs.Close()
		for _, m := range bytes.Split(data, []byte{0x1e}) {
			if len(m) > 0 && m[0] == 'b' {
				c.onMessage(true, m[1:])
			} else {
				c.onMessage(false, m)
			}
		}
		fs.mu.Lock()
		sent := fs.sent
		fs.mu.Unlock()
		d := decoder{maxAttachments: 1 << 20}
		for _, m := range sent {
			if _, err := d.add(m.Binary, m.Data); err != nil {
				t.Fatalf("server sent undecodable %q: %v", m.Data, err)
			}
		}
	})
}
