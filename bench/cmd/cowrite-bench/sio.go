package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connectMany opens n Socket.IO connections, 32 dials at a time. prepare
// runs on each connection before its read loop starts (to set callbacks).
func connectMany(ctx context.Context, base string, n int, prepare func(i int, c *sioConn)) ([]*sioConn, error) {
	bases := strings.Split(base, ",") // a cluster: connection i goes to node i mod len
	conns := make([]*sioConn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			c, err := dialSIO(dctx, bases[i%len(bases)], nil)
			if err != nil {
				errs <- err
				return
			}
			if prepare != nil {
				prepare(i, c)
			}
			if err := c.start(); err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll(conns)
		return nil, fmt.Errorf("connect %d clients to %s: %w", n, hostOf(base), err)
	}
	return conns, nil
}

func closeAll(conns []*sioConn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

var (
	roomMessage = []byte(`["room-message",`)
	roomName    = "bench"
)

// runFanout: every client joins one room; client 0 sends to-room with a
// timestamp, at most cfg.window messages not yet delivered to everyone.
func runFanout(ctx context.Context, cfg *config, res *Result, p *progress) error {
	if cfg.clients < 2 {
		return fmt.Errorf("fanout needs -c >= 2")
	}
	res.Clients = cfg.clients
	var (
		h         hist
		delivered atomic.Int64
		measuring atomic.Bool
		wake      = make(chan struct{}, 1)
		joined    sync.WaitGroup
	)
	t0 := time.Now()
	conns, err := connectMany(ctx, cfg.url, cfg.clients, func(i int, c *sioConn) {
		c.onAck = func(uint64, []byte) { joined.Done() }
		if i == 0 {
			return
		}
		c.onEvent = func(b []byte) {
			if !bytes.HasPrefix(b, roomMessage) {
				return
			}
			ts, ok := parseInt(b[len(roomMessage):])
			if !ok {
				p.errors.Add(1)
				return
			}
			if measuring.Load() {
				h.record(time.Since(t0) - time.Duration(ts))
			}
			delivered.Add(1)
			p.ops.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer closeAll(conns)
	joined.Add(len(conns))
	for _, c := range conns {
		if err := c.emit(1, func(b []byte) []byte { return append(b, `["join","bench"]`...) }); err != nil {
			return err
		}
	}
	if !waitWG(&joined, 15*time.Second) {
		return fmt.Errorf("fanout: joins not acked within 15s")
	}
	sender := conns[0]
	receivers := int64(len(conns) - 1)
	window := int64(cfg.window)
	if window < 1 {
		window = 1
	}
	var sent int64
	send := func() error {
		sent++
		return sender.emit(0, func(b []byte) []byte {
			b = append(b, `["to-room","bench",`...)
			b = strconv.AppendInt(b, int64(time.Since(t0)), 10)
			return append(b, ']')
		})
	}
	// Warm up for a tenth of the duration (at most 1s), then measure.
	warm := min(cfg.duration/10, time.Second)
	var m *measure
	var base int64
	deadline := time.Now().Add(warm)
	phase := 0
	for {
		now := time.Now()
		if now.After(deadline) {
			if phase == 1 {
				break
			}
			phase = 1
			base = delivered.Load()
			measuring.Store(true)
			m = startMeasure(cfg.serverPID)
			deadline = now.Add(cfg.duration)
		}
		if sent*receivers-delivered.Load() < window*receivers {
			if err := send(); err != nil {
				return fmt.Errorf("fanout send: %w", err)
			}
			continue
		}
		select {
		case <-wake:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res.Ops = delivered.Load() - base
	measuring.Store(false)
	m.finish(res)
	res.P50Ms, res.P99Ms, res.MaxMs = h.quantile(0.5), h.quantile(0.99), h.maxMs()
	res.Errors = p.errors.Load()
	// Let in-flight messages drain before closing (not measured).
	end := time.Now().Add(2 * time.Second)
	for sent*receivers > delivered.Load() && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
	}
	if res.Ops == 0 {
		res.Errors++
		res.Note = "no deliveries"
	}
	return nil
}

func waitWG(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// runEcho: each client keeps one message-with-ack in flight; the next one
// is sent from the ack callback.
func runEcho(ctx context.Context, cfg *config, res *Result, p *progress) error {
	res.Clients = cfg.clients
	var (
		h         hist
		count     atomic.Int64
		running   atomic.Bool
		measuring atomic.Bool
		idle      sync.WaitGroup
	)
	t0 := time.Now()
	emit := func(c *sioConn) error {
		return c.emit(1, func(b []byte) []byte {
			b = append(b, `["message-with-ack",`...)
			b = strconv.AppendInt(b, int64(time.Since(t0)), 10)
			return append(b, ']')
		})
	}
	conns, err := connectMany(ctx, cfg.url, cfg.clients, func(i int, c *sioConn) {
		c.onAck = func(_ uint64, b []byte) {
			if len(b) < 2 || b[0] != '[' {
				p.errors.Add(1)
			} else if ts, ok := parseInt(b[1:]); !ok {
				p.errors.Add(1)
			} else {
				if measuring.Load() {
					h.record(time.Since(t0) - time.Duration(ts))
					count.Add(1)
				}
				p.ops.Add(1)
			}
			if running.Load() {
				if emit(c) == nil {
					return
				}
				p.errors.Add(1)
			}
			idle.Done()
		}
	})
	if err != nil {
		return err
	}
	defer closeAll(conns)
	running.Store(true)
	idle.Add(len(conns))
	for _, c := range conns {
		if err := emit(c); err != nil {
			return err
		}
	}
	select {
	case <-time.After(min(cfg.duration/10, time.Second)):
	case <-ctx.Done():
	}
	m := startMeasure(cfg.serverPID)
	measuring.Store(true)
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	res.Ops = count.Load()
	m.finish(res)
	running.Store(false)
	if !waitWG(&idle, 5*time.Second) {
		res.Note = "some round trips never completed"
		p.errors.Add(1)
	}
	res.P50Ms, res.P99Ms, res.MaxMs = h.quantile(0.5), h.quantile(0.99), h.maxMs()
	res.Errors = p.errors.Load()
	if res.Ops == 0 {
		res.Errors++
	}
	return nil
}

// runIdle: server RSS before and after opening cfg.clients idle
// connections (which answer pings), after cfg.duration to settle.
func runIdle(ctx context.Context, cfg *config, res *Result, p *progress) error {
	if cfg.serverPID <= 0 {
		return fmt.Errorf("idle needs -server-pid")
	}
	res.Clients = cfg.clients
	before, err := procRSS(cfg.serverPID)
	if err != nil {
		return err
	}
	m := startMeasure(cfg.serverPID)
	conns, err := connectMany(ctx, cfg.url, cfg.clients, func(int, *sioConn) { p.ops.Add(1) })
	if err != nil {
		return err
	}
	defer closeAll(conns)
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
	}
	after, err := procRSS(cfg.serverPID)
	if err != nil {
		return err
	}
	for _, c := range conns {
		select {
		case <-c.done():
			p.errors.Add(1)
		default:
		}
	}
	res.Ops = int64(len(conns))
	m.finish(res)
	res.Rate = 0
	res.RSSBeforeKiB, res.RSSAfterKiB = before, after
	res.RSSPerConnKiB = float64(after-before) / float64(len(conns))
	res.Errors = p.errors.Load()
	return nil
}
