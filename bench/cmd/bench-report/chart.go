package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// panel is one small bar chart: one bar per server.
type panel struct {
	title string
	unit  string
	bars  []bar
}

type bar struct {
	label string
	value float64
	cow   bool
}

// chart draws every variant's figures as a grid of bar-chart panels.
func chart(s *Summary) string {
	type metric struct {
		c, title, unit string
		f              func(*Group) float64
	}
	metrics := []metric{
		{"echo", "echo round trips/s", "/s", func(g *Group) float64 { return g.Rate }},
		{"echo", "echo p99 latency", "ms", func(g *Group) float64 { return g.P99Ms }},
		{"fanout", "fanout deliveries/s", "/s", func(g *Group) float64 { return g.Rate }},
		{"fanout", "fanout server CPU/delivery", "µs", func(g *Group) float64 { return g.CPUPerOpUs }},
		{"fanout", "fanout p99 latency", "ms", func(g *Group) float64 { return g.P99Ms }},
		{"idle", "RSS per idle connection", "KiB", func(g *Group) float64 { return g.RSSPerConnKiB }},
		{"collab-1x20", "collab 1×20 ops/s", "/s", func(g *Group) float64 { return g.Rate }},
		{"collab-1x20", "collab 1×20 p99 ack", "ms", func(g *Group) float64 { return g.P99Ms }},
		{"collab-100x5", "collab 100×5 ops/s", "/s", func(g *Group) float64 { return g.Rate }},
		{"collab-100x5", "collab 100×5 p99 ack", "ms", func(g *Group) float64 { return g.P99Ms }},
	}
	var variants []string
	for _, g := range s.Groups {
		found := false
		for _, v := range variants {
			found = found || v == g.Variant
		}
		if !found {
			variants = append(variants, g.Variant)
		}
	}
	var panels []panel
	var rowTitles []string
	const cols = 5
	for _, v := range variants {
		n := 0
		for _, m := range metrics {
			p := panel{title: m.title, unit: m.unit}
			for _, g := range s.Groups {
				if g.Variant == v && g.Case == m.c {
					p.bars = append(p.bars, bar{g.Peer, m.f(g), isCowrite(g.Peer)})
				}
			}
			if len(p.bars) > 0 {
				panels = append(panels, p)
				n++
			}
		}
		for n%cols != 0 {
			panels = append(panels, panel{})
			n++
		}
		for i := 0; i < n/cols; i++ {
			rowTitles = append(rowTitles, v)
		}
	}
	const pw, ph, top = 220, 190, 40
	rows := (len(panels) + cols - 1) / cols
	w, h := cols*pw+20, top+rows*(ph+24)+30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/><text x="10" y="22" font-size="15" font-weight="bold">Cowrite vs Node socket.io / ShareDB — medians (%s)</text>`+"\n", html.EscapeString(s.Date))
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">blue: Cowrite (Go: bin/sio-echo, bin/cowrite); orange: peer (Node socket.io 4.8, ShareDB 7). %s</text>`+"\n", h-10, html.EscapeString(s.Meta))
	for i, p := range panels {
		r, c := i/cols, i%cols
		x0, y0 := 10+c*pw, top+r*(ph+24)
		if c == 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold" fill="#333">%s</text>`+"\n", x0, y0+12, html.EscapeString(rowTitles[r]))
		}
		if len(p.bars) == 0 {
			continue
		}
		y0 += 18
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ddd"/>`+"\n", x0, y0, pw-10, ph)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0+6, y0+15, html.EscapeString(p.title))
		maxV := 0.0
		for _, bb := range p.bars {
			maxV = math.Max(maxV, bb.value)
		}
		if maxV == 0 {
			maxV = 1
		}
		area := float64(ph - 60)
		bw := (pw - 10 - 20) / len(p.bars)
		for j, bb := range p.bars {
			bh := bb.value / maxV * area
			x := x0 + 10 + j*bw
			y := float64(y0+ph-22) - bh
			color := "#f28e2b"
			if bb.cow {
				color = "#4e79a7"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`+"\n", x+6, y, bw-12, bh, color)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="middle">%s %s</text>`+"\n", x+bw/2, y-4, num(bb.value), html.EscapeString(p.unit))
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#333">%s</text>`+"\n", x+bw/2, y0+ph-8, html.EscapeString(bb.label))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// num formats v with about three significant digits.
func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
