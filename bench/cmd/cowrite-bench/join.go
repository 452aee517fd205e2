package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runJoin prepares a large document (cfg.joinBytes of text created over
// REST, then cfg.joinOps ops by cfg.editors editors over doc:op) and times
// doc:join on fresh connections: without version (content), with version
// head-1000 (catch-up ops) and with version 1.
func runJoin(ctx context.Context, cfg *config, res *Result, p *progress) error {
	if cfg.proto != "cowrite" {
		return fmt.Errorf("join runs against cowrite only")
	}
	doc := "join-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	content := bigText(cfg.joinBytes)
	body, _ := json.Marshal(map[string]string{"id": doc, "content": content})
	resp, err := http.Post(strings.TrimRight(cfg.url, "/")+"/api/docs", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("create %s: %w", doc, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create %s: %s %s", doc, resp.Status, msg)
	}
	prep := time.Now()
	st := &collabStats{t0: time.Now(), p: p}
	s, err := openSession(ctx, cfg, st, "cowrite", []string{doc}, cfg.editors, cfg.joinBytes+4096, content, nil)
	if err != nil {
		return err
	}
	s.start()
	for p.ops.Load() < int64(cfg.joinOps) && st.errors.Load() == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	bad, head := s.stop(10 * time.Second)
	s.close()
	res.PrepSeconds = time.Since(prep).Seconds()
	if bad > 0 || st.errors.Load() > 0 {
		res.Errors = st.errors.Load()
		res.Note, _ = st.lastErr.Load().(string)
		return nil
	}
	res.DocVersion = head
	m := startMeasure(cfg.serverPID)

	timeJoin := func(version uint64) (time.Duration, *sioAck, int, error) {
		c, err := dialSIO(ctx, cfg.url, nil)
		if err != nil {
			return 0, nil, 0, err
		}
		type reply struct {
			at  time.Time
			ack *sioAck
			n   int
			err error
		}
		ch := make(chan reply, 1)
		c.onAck = func(_ uint64, b []byte) {
			at := time.Now()
			a, err := parseAck(b)
			ch <- reply{at, a, len(b), err}
		}
		if err := c.start(); err != nil {
			return 0, nil, 0, err
		}
		defer c.close()
		start := time.Now()
		err = c.emit(1, func(b []byte) []byte {
			b = append(b, `["doc:join",{"doc":`...)
			b = appendJSONString(b, doc)
			if version > 0 {
				b = append(b, `,"version":`...)
				b = strconv.AppendUint(b, version, 10)
			}
			return append(b, `}]`...)
		})
		if err != nil {
			return 0, nil, 0, err
		}
		select {
		case r := <-ch:
			return r.at.Sub(start), r.ack, r.n, r.err
		case <-time.After(30 * time.Second):
			return 0, nil, 0, fmt.Errorf("doc:join: no ack within 30s")
		}
	}
	median := func(version uint64, check func(*sioAck) error) (float64, *sioAck, error) {
		var ds []time.Duration
		var last *sioAck
		for i := 0; i < max(cfg.joinRuns, 1); i++ {
			d, a, _, err := timeJoin(version)
			if err != nil {
				return 0, nil, err
			}
			if err := check(a); err != nil {
				return 0, nil, err
			}
			ds = append(ds, d)
			last = a
			p.ops.Add(1)
		}
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / 1e6, last, nil
	}
	var a *sioAck
	res.JoinContent, a, err = median(0, func(a *sioAck) error {
		if a.Content == nil || a.Version < head {
			return fmt.Errorf("join without version: no content or version %d < %d", a.Version, head)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.DocBytes = len(*a.Content)
	old := uint64(1)
	if head > 1000 {
		old = head - 1000
	}
	res.JoinOld, a, err = median(old, func(a *sioAck) error {
		if a.Content == nil && len(a.Ops) == 0 {
			return fmt.Errorf("join with version %d: neither content nor ops", old)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if a.Ops != nil {
		var ops []json.RawMessage
		_ = json.Unmarshal(a.Ops, &ops)
		res.JoinOldOps = len(ops)
	}
	res.JoinOldest, a, err = median(1, func(a *sioAck) error {
		if a.Content == nil && len(a.Ops) == 0 {
			return fmt.Errorf("join with version 1: neither content nor ops")
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.JoinOldestBy = "content"
	if a.Content == nil {
		var ops []json.RawMessage
		_ = json.Unmarshal(a.Ops, &ops)
		res.JoinOldestBy = fmt.Sprintf("%d ops", len(ops))
	}
	m.finish(res)
	res.Rate = 0
	res.Errors = st.errors.Load()
	return nil
}

// bigText returns n bytes of ASCII lines.
func bigText(n int) string {
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "cowrite", "text", "edit", "op", "version"}
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.Grow(n)
	col := 0
	for b.Len() < n {
		w := words[r.IntN(len(words))]
		b.WriteString(w)
		col += len(w) + 1
		if col > 70 {
			b.WriteByte('\n')
			col = 0
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()[:n]
}
