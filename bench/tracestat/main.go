// Command tracestat summarizes a Go execution trace (runtime/trace, e.g.
// from /debug/pprof/trace) by stage of the server's pipeline, without
// needing annotations in the server:
//
//   - goroutines are grouped by kind: the outermost non-runtime function of
//     any stack seen for them (the function the goroutine was started
//     with, e.g. collab.(*doc).run, storage.(*DB).commitLoop,
//     wsconn.(*Conn).writeRun);
//   - per kind: wake-ups, scheduling latency (runnable → running), run
//     slices, and CPU time;
//   - hand-offs: which kind woke which (the goroutine that made another
//     runnable, or "netpoller/timer" when none did) and how long the woken
//     one waited for a CPU; per op with -ops;
//   - system calls by kind and call (fdatasync, write, read, …): count and
//     duration;
//   - blocking by kind and reason (chan receive, select, sync.Cond, …);
//   - user regions (trace.WithRegion / StartRegion) and tasks (trace.NewTask)
//     when the program has them: per type p50/p99/max; and per-stage times
//     inside tasks: a task's trace.Log events (any category; the message
//     names the stage) split it into stages, "task start → first log",
//     "log A → log B", …, "last log → task end", across goroutines. So an op
//     annotated as NewTask("doc:op") at receipt, Log("stage", "sequencer"),
//     Log("stage", "store"), Log("stage", "durable"), Log("stage", "ack
//     written"), End() gets its socket → document goroutine → store → fsync
//     → ack times.
//
// Each table prints count, p50, p99 and max (and the total for CPU and
// syscalls). It lives in its own module (bench/tracestat) so that the
// trace parser, golang.org/x/exp/trace, is not a dependency of Cowrite.
//
//	go run ./bench/tracestat -ops 15000 trace.out   (from bench/tracestat: go run . …)
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

func main() {
	ops := flag.Int("ops", 0, "ops the server handled during the trace (prints wake-ups and hand-offs per op)")
	top := flag.Int("top", 25, "rows per table")
	prefix := flag.String("trim", "github.com/cowrite/cowrite/", "package path prefix to drop from names")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tracestat [-ops N] [-top N] trace.out")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	s, err := analyze(flag.Arg(0), *prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracestat:", err)
		os.Exit(1)
	}
	s.print(os.Stdout, *ops, *top)
}

// durs is a list of durations with quantiles.
type durs []time.Duration

func (d durs) q(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(p*float64(len(d)) + 0.5)
	return d[min(max(i-1, 0), len(d)-1)]
}

func (d durs) sum() (t time.Duration) {
	for _, x := range d {
		t += x
	}
	return t
}

// table is named duration lists.
type table map[string]durs

func (t table) add(k string, d time.Duration) { t[k] = append(t[k], d) }

type gstate struct {
	state    trace.GoState
	since    trace.Time // entered state
	waker    string     // kind that made it runnable ("" when it was not waiting)
	wakeFrom bool       // runnable after waiting (not preempted)
	reason   string     // why it waits
	syscall  string     // the call it is in
}

type stats struct {
	span       time.Duration
	sched      table // kind → runnable→running after a wake-up
	preempt    table // kind → runnable→running after preemption/yield
	run        table // kind → running slices
	edges      table // "waker → woken" → runnable→running
	syscalls   table // "kind  call" → duration
	blocked    table // "kind  reason" → duration
	regions    table // region type → duration
	tasks      table // task type → duration
	stages     table // "task type: stage A → stage B" → duration
	goroutines map[string]int
}

// kinds reads the trace once and names each goroutine by the outermost
// non-runtime frame of the stacks seen for it.
func kinds(path, prefix string) (map[trace.GoID]string, error) {
	k := map[trace.GoID]string{}
	depth := map[trace.GoID]int{}
	see := func(g trace.GoID, st trace.Stack) {
		if g == trace.NoGoroutine || st == trace.NoStack {
			return
		}
		var frames []trace.StackFrame
		for f := range st.Frames() {
			frames = append(frames, f)
		}
		for i := len(frames) - 1; i >= 0; i-- {
			fn := frames[i].Func
			if fn == "runtime.goexit" || strings.HasPrefix(fn, "runtime.") && fn != "runtime.main" {
				continue
			}
			// Deeper stacks reach the entry function more reliably.
			if len(frames) >= depth[g] {
				k[g], depth[g] = strings.TrimPrefix(fn, prefix), len(frames)
			}
			return
		}
	}
	err := each(path, func(ev *trace.Event) {
		see(ev.Goroutine(), ev.Stack())
		if ev.Kind() == trace.EventStateTransition {
			st := ev.StateTransition()
			if st.Resource.Kind == trace.ResourceGoroutine {
				see(st.Resource.Goroutine(), st.Stack)
			}
		}
	})
	return k, err
}

func each(path string, f func(*trace.Event)) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := trace.NewReader(fh)
	if err != nil {
		return err
	}
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f(&ev)
	}
}

// syscallName is the innermost frame of a syscall stack outside the
// runtime and the syscall plumbing (syscall.Syscall, RawSyscall6, …),
// i.e. syscall.write, syscall.Fdatasync, unix.EpollWait.
func syscallName(st trace.Stack, prefix string) string {
	name := "?"
	for f := range st.Frames() {
		fn := f.Func
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime/") ||
			strings.HasPrefix(fn, "syscall.Syscall") || strings.HasPrefix(fn, "syscall.RawSyscall") ||
			strings.HasPrefix(fn, "syscall.rawSyscall") || strings.HasPrefix(fn, "syscall.rawVforkSyscall") ||
			strings.HasPrefix(fn, "golang.org/x/sys/unix.Syscall") || strings.HasPrefix(fn, "golang.org/x/sys/unix.RawSyscall") {
			continue
		}
		return strings.TrimPrefix(fn, prefix)
	}
	return name
}

func analyze(path, prefix string) (*stats, error) {
	kind, err := kinds(path, prefix)
	if err != nil {
		return nil, err
	}
	name := func(g trace.GoID) string {
		if g == trace.NoGoroutine {
			return "netpoller/timer"
		}
		if k, ok := kind[g]; ok {
			return k
		}
		return "?"
	}
	s := &stats{sched: table{}, preempt: table{}, run: table{}, edges: table{}, syscalls: table{},
		blocked: table{}, regions: table{}, tasks: table{}, stages: table{}, goroutines: map[string]int{}}
	gs := map[trace.GoID]*gstate{}
	type open struct {
		typ string
		at  trace.Time
	}
	regions := map[trace.GoID][]open{}
	tasks := map[trace.TaskID]open{}
	type mark struct {
		stage string
		at    trace.Time
	}
	marks := map[trace.TaskID][]mark{}
	var first, last trace.Time
	err = each(path, func(ev *trace.Event) {
		t := ev.Time()
		if first == 0 {
			first = t
		}
		last = t
		switch ev.Kind() {
		case trace.EventRegionBegin:
			regions[ev.Goroutine()] = append(regions[ev.Goroutine()], open{ev.Region().Type, t})
		case trace.EventRegionEnd:
			rs := regions[ev.Goroutine()]
			for i := len(rs) - 1; i >= 0; i-- {
				if rs[i].typ == ev.Region().Type {
					s.regions.add(rs[i].typ, t.Sub(rs[i].at))
					regions[ev.Goroutine()] = slices.Delete(rs, i, i+1)
					break
				}
			}
		case trace.EventTaskBegin:
			tasks[ev.Task().ID] = open{ev.Task().Type, t}
		case trace.EventLog:
			if id := ev.Log().Task; id != trace.NoTask {
				if _, ok := tasks[id]; ok {
					marks[id] = append(marks[id], mark{ev.Log().Message, t})
				}
			}
		case trace.EventTaskEnd:
			id := ev.Task().ID
			if o, ok := tasks[id]; ok {
				s.tasks.add(o.typ, t.Sub(o.at))
				prev := mark{"start", o.at}
				for _, m := range append(marks[id], mark{"end", t}) {
					s.stages.add(o.typ+": "+prev.stage+" → "+m.stage, m.at.Sub(prev.at))
					prev = m
				}
				delete(tasks, id)
				delete(marks, id)
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				return
			}
			g := st.Resource.Goroutine()
			from, to := st.Goroutine()
			k := name(g)
			x := gs[g]
			if x == nil {
				x = &gstate{state: trace.GoUndetermined}
				gs[g] = x
				s.goroutines[k]++
			}
			known := x.state != trace.GoUndetermined && from == x.state
			d := t.Sub(x.since)
			if known {
				switch from {
				case trace.GoRunning:
					s.run.add(k, d)
				case trace.GoRunnable:
					if to == trace.GoRunning {
						if x.wakeFrom {
							s.sched.add(k, d)
							s.edges.add(x.waker+" → "+k, d)
						} else {
							s.preempt.add(k, d)
						}
					}
				case trace.GoSyscall:
					s.syscalls.add(k+"  "+x.syscall, d)
				case trace.GoWaiting:
					s.blocked.add(k+"  "+x.reason, d)
				}
			}
			switch to {
			case trace.GoRunnable:
				x.wakeFrom = from == trace.GoWaiting || from == trace.GoNotExist
				x.waker = name(ev.Goroutine())
				if from == trace.GoNotExist {
					x.waker += " (go)"
				}
			case trace.GoWaiting:
				x.reason = st.Reason
			case trace.GoSyscall:
				x.syscall = syscallName(ev.Stack(), prefix)
			}
			x.state, x.since = to, t
		}
	})
	if err != nil {
		return nil, err
	}
	s.span = last.Sub(first)
	for _, t := range []table{s.sched, s.preempt, s.run, s.edges, s.syscalls, s.blocked, s.regions, s.tasks, s.stages} {
		for _, d := range t {
			slices.Sort(d)
		}
	}
	return s, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

// printTable prints t's rows by descending key(rows): count, p50, p99, max
// (ms), total (s) and, with ops, count per op.
func printTable(w io.Writer, title string, t table, ops, top int, byTotal bool) {
	if len(t) == 0 {
		return
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if byTotal {
			return t[keys[i]].sum() > t[keys[j]].sum()
		}
		return len(t[keys[i]]) > len(t[keys[j]])
	})
	fmt.Fprintf(w, "\n## %s\n\n", title)
	perOp := ""
	if ops > 0 {
		perOp = " per op |"
	}
	fmt.Fprintf(w, "| %s | count |%s p50 ms | p99 ms | max ms | total s |\n", "what", perOp)
	fmt.Fprintf(w, "| --- | ---: |%s ---: | ---: | ---: | ---: |\n", map[bool]string{true: " ---: |"}[ops > 0])
	for i, k := range keys {
		if i == top {
			fmt.Fprintf(w, "| (%d more) | | | | | |\n", len(keys)-top)
			break
		}
		d := t[k]
		po := ""
		if ops > 0 {
			po = fmt.Sprintf(" %.2f |", float64(len(d))/float64(ops))
		}
		fmt.Fprintf(w, "| %s | %d |%s %s | %s | %s | %.3f |\n", k, len(d), po, ms(d.q(0.5)), ms(d.q(0.99)), ms(d.q(1)), d.sum().Seconds())
	}
}

func (s *stats) print(w io.Writer, ops, top int) {
	fmt.Fprintf(w, "trace span %.2fs", s.span.Seconds())
	if ops > 0 {
		fmt.Fprintf(w, ", %d ops (%.0f/s)", ops, float64(ops)/s.span.Seconds())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "goroutines by kind:")
	type kc struct {
		k string
		n int
	}
	var kcs []kc
	for k, n := range s.goroutines {
		kcs = append(kcs, kc{k, n})
	}
	sort.Slice(kcs, func(i, j int) bool { return kcs[i].n > kcs[j].n })
	for i, x := range kcs {
		if i == top {
			break
		}
		fmt.Fprintf(w, " %s ×%d;", x.k, x.n)
	}
	fmt.Fprintln(w)
	printTable(w, "User tasks (trace.NewTask … End)", s.tasks, ops, top, false)
	printTable(w, "Stages inside tasks (between the task's trace.Log events)", s.stages, ops, top, false)
	printTable(w, "User regions (trace.WithRegion / StartRegion)", s.regions, ops, top, false)
	printTable(w, "CPU: running slices by goroutine kind", s.run, ops, top, true)
	printTable(w, "Wake-ups: runnable → running after being woken, by kind", s.sched, ops, top, false)
	printTable(w, "Hand-offs: waker → woken, time until the woken goroutine ran", s.edges, ops, top, false)
	printTable(w, "Preempted or yielded: runnable → running again", s.preempt, ops, top, true)
	printTable(w, "System calls by goroutine kind", s.syscalls, ops, top, true)
	printTable(w, "Blocked (waiting) by goroutine kind and reason", s.blocked, ops, top, false)
}
