#!/usr/bin/env bash
# Profiles a server under one workload without touching its package: builds
# a profiling copy of e2e/sio-echo or of the cowrite main package (the same
# files plus an init that serves net/http/pprof on $PPROF_ADDR) in
# bench/_prof/, runs the workload with the server pinned to core 0 and the
# load tool to core 1, and saves a CPU profile (and a heap profile) to
# bench/results/prof/<case>.{cpu,heap}.pprof with a text top in .txt.
#
#   bench/profile.sh echo|fanout|idle|collab-1x20|collab-100x5|collab-rate|trace
#   bench/profile.sh build     only build bin/cowrite-prof and bin/sio-echo-prof
#
# collab-rate: 100 docs × 5 editors in open loop at RATE ops/s (3000), CPU
# profile. trace: the same load, but an execution trace
# (/debug/pprof/trace, DUR seconds) saved as prof/trace.out and summarized
# by bench/tracestat (per goroutine kind: wake-ups, hand-offs, syscalls,
# blocking; user regions and tasks if the server has them) into
# prof/trace.txt, with the ops of the traced window for per-op counts.
set -euo pipefail
cd "$(dirname "$0")/.."
CASE=${1:?case: echo, fanout, idle, collab-1x20, collab-100x5, collab-rate or trace}
DUR=${DUR:-5}
RATE=${RATE:-3000}
OUT=bench/results/prof
mkdir -p "$OUT" bench/_prof/sio-echo bench/_prof/cowrite
PPROF_INIT='package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if a := os.Getenv("PPROF_ADDR"); a != "" {
		go func() { _ = http.ListenAndServe(a, nil) }()
	}
}'
cp e2e/sio-echo/*.go bench/_prof/sio-echo/
rm -f bench/_prof/cowrite/*.go
for f in *.go; do [[ $f == *_test.go ]] || cp "$f" bench/_prof/cowrite/; done
echo "$PPROF_INIT" >bench/_prof/sio-echo/pprof_init.go
echo "$PPROF_INIT" >bench/_prof/cowrite/pprof_init.go
go build -o bin/sio-echo-prof ./bench/_prof/sio-echo
go build -o bin/cowrite-prof ./bench/_prof/cowrite
go build -o bin/cowrite-bench ./bench/cmd/cowrite-bench
[[ $CASE == build ]] && exit 0

PORT=3490
export PPROF_ADDR=127.0.0.1:3491
DATA=$(mktemp -d)
case $CASE in
echo | fanout | idle)
	taskset -c 0 bin/sio-echo-prof -addr 127.0.0.1:$PORT -ping-interval 25s -ping-timeout 20s >/dev/null 2>&1 &
	;;
*)
	taskset -c 0 bin/cowrite-prof --addr 127.0.0.1:$PORT --data "$DATA" --ops-per-second -1 --max-collaborators 1000 --log-level warn >/dev/null 2>&1 &
	;;
esac
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
sleep 1
case $CASE in
echo) args=(-workload echo -c 50) ;;
fanout) args=(-workload fanout -c 200) ;;
idle) args=(-workload idle -c 2000) ;;
collab-1x20) args=(-workload collab -docs 1 -editors 20) ;;
collab-100x5) args=(-workload collab -docs 100 -editors 5) ;;
collab-rate | trace) args=(-workload collab -docs 100 -editors 5 -rate "$RATE") ;;
*) echo "unknown case $CASE" >&2; exit 2 ;;
esac
taskset -c 1 bin/cowrite-bench -q -url http://127.0.0.1:$PORT -server-pid $PID -duration $((DUR + 2))s -json "$OUT/$CASE.bench.json" "${args[@]}" >"$OUT/$CASE.bench.txt" &
BENCH=$!
sleep 1.5
ops0=0
metric_ops() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "cowrite_commit_batch_ops_sum" { printf "%d", $2 }'; }
if [[ $CASE == trace ]]; then
	ops0=$(metric_ops)
	curl -s -o "$OUT/trace.out" "http://$PPROF_ADDR/debug/pprof/trace?seconds=$DUR"
	ops1=$(metric_ops)
	(cd bench/tracestat && go build -o ../../bin/tracestat .)
	bin/tracestat -ops $((ops1 - ops0)) "$OUT/trace.out" >"$OUT/trace.txt"
	echo "trace summary in $OUT/trace.txt ($((ops1 - ops0)) ops committed while tracing)" >&2
elif [[ $CASE == idle ]]; then
	sleep $((DUR))
	curl -s -o "$OUT/$CASE.heap.pprof" "http://$PPROF_ADDR/debug/pprof/heap?gc=1"
	curl -s "http://$PPROF_ADDR/debug/pprof/goroutine?debug=1" | head -40 >"$OUT/$CASE.goroutines.txt"
else
	curl -s -o "$OUT/$CASE.cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$DUR"
	go tool pprof -top -nodecount=40 "$OUT/$CASE.cpu.pprof" >"$OUT/$CASE.cpu.txt" 2>/dev/null
	go tool pprof -top -cum -nodecount=60 "$OUT/$CASE.cpu.pprof" >"$OUT/$CASE.cpu-cum.txt" 2>/dev/null
fi
wait $BENCH || true
if [[ $CASE == idle ]]; then
	go tool pprof -sample_index=inuse_space -top -nodecount=30 "$OUT/$CASE.heap.pprof" >"$OUT/$CASE.heap.txt" 2>/dev/null
fi
echo "profiles in $OUT" >&2
