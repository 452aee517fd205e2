package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/storage"
)

// Scale figures (workloads scale, gen-docs and list).
type scaleResult struct {
	// scale: server RSS at start, with every connection open (none
	// joined), and with every document joined (loaded); the per-connection
	// and per-document differences; RSS after the typing phase and after
	// the connections closed and -unload-wait passed (idle documents
	// unloaded, see the server's --idle-unload); server CPU cores used
	// while typing.
	RSSStartKiB      int64   `json:"rss_start_kib,omitempty"`
	RSSConnectedKiB  int64   `json:"rss_connected_kib,omitempty"`
	RSSJoinedKiB     int64   `json:"rss_joined_kib,omitempty"`
	RSSPerDocKiB     float64 `json:"rss_per_loaded_doc_kib,omitempty"`
	RSSUnloadedKiB   int64   `json:"rss_unloaded_kib,omitempty"`
	UnloadSeconds    float64 `json:"unload_s,omitempty"` // closing → no document loaded
	ServerCores      float64 `json:"server_cores,omitempty"`
	ConnectSeconds   float64 `json:"connect_s,omitempty"`
	JoinSeconds      float64 `json:"join_s,omitempty"`
	GeneratedDocs    int     `json:"generated_docs,omitempty"`
	GenerateSeconds  float64 `json:"generate_s,omitempty"`
	ListPages        int     `json:"list_pages,omitempty"`
	ListDocs         int     `json:"list_docs,omitempty"`
	ListFirstPageMs  float64 `json:"list_first_page_ms,omitempty"`
	ListPageP50Ms    float64 `json:"list_page_p50_ms,omitempty"`
	ListPageP99Ms    float64 `json:"list_page_p99_ms,omitempty"`
	ListPageMaxMs    float64 `json:"list_page_max_ms,omitempty"`
	ListPageSize     int     `json:"list_page_size,omitempty"`
	ListTotalSeconds float64 `json:"list_total_s,omitempty"`
	// Phases: the Go heap in use (go_memstats_heap_inuse_bytes, KiB) and
	// cowrite_documents_loaded from /metrics; RSS stays high after
	// documents unload (the runtime returns memory lazily), the heap shows
	// what was freed.
	Phases []scalePhase `json:"phases,omitempty"`
}

type scalePhase struct {
	Name       string  `json:"name"`
	RSSKiB     int64   `json:"rss_kib"`
	AnonKiB    int64   `json:"rss_anon_kib"`
	HeapKiB    float64 `json:"heap_inuse_kib"`
	DocsLoaded float64 `json:"docs_loaded"`
	AfterGC    bool    `json:"after_gc,omitempty"`
}

// phase records the server's memory now under name (after a forced GC
// with -pprof-url).
func (sr *scaleResult) phase(cfg *config, name string) {
	ph := scalePhase{Name: name}
	if cfg.pprofURL != "" {
		c := &http.Client{Timeout: 30 * time.Second}
		if resp, err := c.Get(strings.TrimRight(cfg.pprofURL, "/") + "/debug/pprof/heap?gc=1"); err == nil {
			var w io.Writer = io.Discard
			if cfg.heapDir != "" {
				if f, err := os.Create(filepath.Join(cfg.heapDir, strings.ReplaceAll(strings.ReplaceAll(name, " ", ""), ",", "-")+".heap.pprof")); err == nil {
					defer f.Close()
					w = f
				}
			}
			_, _ = io.Copy(w, resp.Body)
			resp.Body.Close()
			ph.AfterGC = resp.StatusCode == http.StatusOK
		}
		c.CloseIdleConnections()
	}
	ph.RSSKiB, _ = procRSS(cfg.serverPID)
	ph.AnonKiB, _ = procStatus(cfg.serverPID, "RssAnon:")
	g := scrapeGauges(cfg.url, "go_memstats_heap_inuse_bytes", "cowrite_documents_loaded")
	ph.HeapKiB, ph.DocsLoaded = g["go_memstats_heap_inuse_bytes"]/1024, g["cowrite_documents_loaded"]
	sr.Phases = append(sr.Phases, ph)
}

// runScale: -c connections over -docs documents (c/docs editors each),
// typing in open loop at -per-conn-rate ops/s each, for -duration; RSS
// per connection and per loaded document from the phases before typing.
func runScale(ctx context.Context, cfg *config, res *Result, p *progress) error {
	if cfg.serverPID <= 0 {
		return fmt.Errorf("scale needs -server-pid")
	}
	if cfg.docs <= 0 || cfg.clients < 2*cfg.docs || cfg.clients%cfg.docs != 0 {
		return fmt.Errorf("scale: -c (%d) must be a multiple of -docs (%d), at least 2 editors each", cfg.clients, cfg.docs)
	}
	editors := cfg.clients / cfg.docs
	res.Clients, res.Docs, res.Editors = cfg.clients, cfg.docs, editors
	sr := &scaleResult{}
	res.Scale = sr
	var err error
	if sr.RSSStartKiB, err = procRSS(cfg.serverPID); err != nil {
		return err
	}
	sr.phase(cfg, "start")
	st := &collabStats{t0: time.Now(), p: p, openLoop: true}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	docs := make([]string, cfg.docs)
	for i := range docs {
		docs[i] = fmt.Sprintf("scale-%s-%d", runID, i)
	}
	t0 := time.Now()
	var tJoin time.Time
	s, err := openSession(ctx, cfg, st, "cowrite", docs, editors, cfg.docLen, "", func() {
		tJoin = time.Now()
		sr.ConnectSeconds = tJoin.Sub(t0).Seconds()
		sr.RSSConnectedKiB, _ = procRSS(cfg.serverPID)
		sr.phase(cfg, "connected")
	})
	if err != nil {
		return err
	}
	sr.JoinSeconds = time.Since(tJoin).Seconds()
	closed := false
	defer func() {
		if !closed {
			s.close()
		}
	}()
	sr.RSSJoinedKiB, _ = procRSS(cfg.serverPID)
	sr.phase(cfg, "joined")
	res.RSSPerConnKiB = float64(sr.RSSConnectedKiB-sr.RSSStartKiB) / float64(cfg.clients)
	sr.RSSPerDocKiB = float64(sr.RSSJoinedKiB-sr.RSSConnectedKiB) / float64(cfg.docs)

	s.start()
	rate := cfg.perConnRate * float64(cfg.clients)
	res.OfferedRate, res.Arrivals = rate, cfg.arrivals
	stopOffer := s.offer(ctx, rate, cfg.arrivals == "uniform")
	defer stopOffer()
	select {
	case <-time.After(min(cfg.duration/5, 2*time.Second)):
	case <-ctx.Done():
	}
	st.window(ctx, cfg, res)
	sr.phase(cfg, "typing")
	if res.Seconds > 0 {
		sr.ServerCores = res.ServerCPU / res.Seconds
	}
	stopOffer()
	bad, _ := s.stop(10 * time.Second)
	st.fill(res, bad)
	s.close()
	closed = true
	if cfg.unloadWait > 0 {
		// Wait until the server reports no document loaded (its
		// --idle-unload after the last editor left), at most unloadWait.
		t0 := time.Now()
		for time.Since(t0) < cfg.unloadWait && ctx.Err() == nil {
			if g, ok := scrapeGauges(cfg.url, "cowrite_documents_loaded")["cowrite_documents_loaded"]; ok && g == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		sr.UnloadSeconds = time.Since(t0).Seconds()
		sr.RSSUnloadedKiB, _ = procRSS(cfg.serverPID)
		sr.phase(cfg, "closed, unloaded")
	}
	return nil
}

// runGenDocs creates -gen-docs documents (small content) in the data file
// of -data, straight through the storage package (the server must not be
// running: the file is locked), -c writers at a time so that the group
// committer batches them.
func runGenDocs(ctx context.Context, cfg *config, res *Result, p *progress) error {
	if cfg.dataDir == "" || cfg.genDocs <= 0 {
		return fmt.Errorf("gen-docs needs -data and -gen-docs > 0")
	}
	db, err := storage.Open(filepath.Join(cfg.dataDir, "cowrite.db"), nil)
	if err != nil {
		return err
	}
	sr := &scaleResult{}
	res.Scale = sr
	start := time.Now()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < max(cfg.clients, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.genDocs) || ctx.Err() != nil {
					return
				}
				now := time.Now()
				meta := storage.DocMeta{ID: fmt.Sprintf("gen-%07d", i), Title: fmt.Sprintf("Generated document %d", i), Created: now, Updated: now}
				content := fmt.Sprintf("# Generated document %d\n\nSome text of document %d, for the list benchmark.\n", i, i)
				if _, err := db.CreateDoc(ctx, meta, content); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				p.ops.Add(1)
			}
		}()
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		return err
	}
	sr.GeneratedDocs = int(int64(cfg.genDocs) - failed.Load())
	sr.GenerateSeconds = time.Since(start).Seconds()
	res.Ops = int64(sr.GeneratedDocs)
	res.Seconds = sr.GenerateSeconds
	res.Rate = float64(res.Ops) / res.Seconds
	res.Errors = failed.Load()
	if e, ok := firstErr.Load().(string); ok {
		res.Note = e
	}
	return nil
}

// runList pages through GET /api/docs (-list-limit per page, following
// the cursor) up to -list-pages pages (0 = all), timing each page.
func runList(ctx context.Context, cfg *config, res *Result, p *progress) error {
	sr := &scaleResult{ListPageSize: cfg.listLimit}
	res.Scale = sr
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	base := strings.TrimRight(cfg.url, "/") + "/api/docs?limit=" + strconv.Itoa(cfg.listLimit)
	var pages []time.Duration
	cursor := ""
	start := time.Now()
	m := startMeasure(cfg.serverPID)
	for cfg.listPages == 0 || len(pages) < cfg.listPages {
		u := base
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
		}
		var page struct {
			Docs []json.RawMessage `json:"docs"`
			Next string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("GET %s: %w", u, err)
		}
		pages = append(pages, d)
		sr.ListDocs += len(page.Docs)
		p.ops.Add(1)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	res.Ops = int64(len(pages))
	m.finish(res)
	sr.ListTotalSeconds = time.Since(start).Seconds()
	sr.ListPages = len(pages)
	if len(pages) > 0 {
		sr.ListFirstPageMs = float64(pages[0]) / 1e6
		slices.Sort(pages)
		q := func(f float64) float64 { return float64(pages[min(int(f*float64(len(pages))), len(pages)-1)]) / 1e6 }
		sr.ListPageP50Ms, sr.ListPageP99Ms, sr.ListPageMaxMs = q(0.5), q(0.99), float64(pages[len(pages)-1])/1e6
	}
	if cfg.serverPID > 0 {
		res.RSSAfterKiB, _ = procRSS(cfg.serverPID)
		sr.phase(cfg, "listed")
	}
	return nil
}
