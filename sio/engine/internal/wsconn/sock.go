package wsconn

import (
	"io"
	"net"
	"sync"
)

// readBufferSize is the size of the pooled buffers the socket is read
// into; only a reader that has data to parse holds one.
const readBufferSize = 16 << 10

var readPool = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// blockingReadPool holds the smaller buffers of connections read with
// blocking reads (no RawConn: TLS, or a platform without sock support),
// which hold theirs while they wait.
var blockingReadPool = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}

// readBurstsBlocking is readBursts for a connection without a RawConn
// (TLS): blocking reads into a pooled buffer.
func readBurstsBlocking(c net.Conn, onBurst func([]byte) bool) error {
	for {
		bp := blockingReadPool.Get().(*[]byte)
		n, err := c.Read(*bp)
		if n == 0 {
			blockingReadPool.Put(bp)
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		more := onBurst((*bp)[:n]) // an error comes back on the next read
		blockingReadPool.Put(bp)
		if !more {
			return nil
		}
	}
}
