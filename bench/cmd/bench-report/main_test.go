package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRuns(t *testing.T, dir string, runs ...run) {
	t.Helper()
	for i, r := range runs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.ReplaceAll(r.Label, "/", "-") + "-" + string(rune('a'+i)) + ".json"
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	writeRuns(t, dir,
		run{Label: "pinned/echo/sio-echo", Rate: 100, P99Ms: 3, ServerCPUPerOp: 10, Seconds: 1, ToolCPU: 0.5},
		run{Label: "pinned/echo/sio-echo", Rate: 300, P99Ms: 1, ServerCPUPerOp: 10, Seconds: 1, ToolCPU: 0.5},
		run{Label: "pinned/echo/sio-echo", Rate: 200, P99Ms: 2, ServerCPUPerOp: 10, Seconds: 1, ToolCPU: 0.5},
		run{Label: "pinned/echo/node-socket.io", Rate: 90, ServerCPUPerOp: 20},
		run{Label: "pinned/fanout/sio-echo", Rate: 1000, ServerCPUPerOp: 1},
		run{Label: "pinned/fanout/node-socket.io", Rate: 100, ServerCPUPerOp: 9},
		run{Label: "pinned/idle/sio-echo", RSSPerConnKiB: 12.5},
		run{Label: "pinned/collab-100x5/cowrite", Rate: 50, P99Ms: 30, Errors: 1, Note: "document x did not converge"},
		run{Label: "pinned/collab-100x5/sharedb", Rate: 10, P99Ms: 90},
		run{Label: "pinned/join/cowrite", JoinContent: 6, JoinOld: 60, DocBytes: 1 << 20, DocVersion: 100000},
	)
	s, err := summarize(dir)
	if err != nil {
		t.Fatal(err)
	}
	echo := s.find("pinned", "echo", true)
	if echo == nil || echo.Runs != 3 || echo.Rate != 200 || echo.P99Ms != 2 || echo.ToolCPUShare != 0.5 {
		t.Fatalf("echo group %+v", echo)
	}
	if s.Groups[0].Case != "echo" || s.Groups[0].Peer != "sio-echo" {
		t.Fatalf("groups not ordered by case then Cowrite first: %+v", s.Groups[0])
	}
	want := map[string]bool{
		"echo round trips/s vs Node socket.io":    true,  // 200/90 ≥ 2
		"fanout server CPU per delivery vs Node":  true,  // 1/9 ≤ 1/3
		"RSS per idle connection":                 false, // 12.5 > 10
		"collab 100×5 committed ops/s vs ShareDB": true,  // 5×
		"collab 100×5 p99 ack latency":            true,  // 30 ≤ 40
		"join 1 MB / 100k ops (content)":          true,
		"join with an old version (head-1000)":    false,
	}
	for _, tg := range s.Targets {
		met, ok := want[tg.Name]
		if !ok {
			t.Errorf("unexpected target %q", tg.Name)
			continue
		}
		if tg.Met != met {
			t.Errorf("target %q met=%v, want %v (%s)", tg.Name, tg.Met, met, tg.Figure)
		}
		delete(want, tg.Name)
	}
	if len(want) > 0 {
		t.Errorf("targets missing: %v", want)
	}
	md := markdown(s)
	for _, frag := range []string{"| pinned | echo | sio-echo | 3 | 200 | 100, 300, 200 |", "**missed**", "did not converge", "12.50"} {
		if !strings.Contains(md, frag) {
			t.Errorf("markdown lacks %q:\n%s", frag, md)
		}
	}
	svg := chart(s)
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
	if strings.Count(svg, `fill="#4e79a7"`) < 5 || !strings.Contains(svg, "node-socket.io") {
		t.Fatalf("chart lacks bars or labels")
	}
}

func TestSummarizeErrors(t *testing.T) {
	if _, err := summarize(t.TempDir()); err == nil {
		t.Fatal("empty directory accepted")
	}
	dir := t.TempDir()
	writeRuns(t, dir, run{Label: "no-slashes"})
	if _, err := summarize(dir); err == nil || !strings.Contains(err.Error(), "variant/case/peer") {
		t.Fatalf("bad label: err = %v", err)
	}
}
