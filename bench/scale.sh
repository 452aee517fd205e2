#!/usr/bin/env bash
# Scale on one machine, in two parts (server pinned to core 0, load on core
# 1 unless PIN=0):
#
#  1. CONNS connections over DOCS documents (CONNS/DOCS editors each) typing
#     at PER_CONN_RATE ops/s each (open loop, Poisson): server RSS per
#     connection (all connected, none joined) and per loaded document (all
#     joined), ack p50/p99/p999, server cores; then the connections close
#     and, once /metrics shows no document loaded (the server's
#     --idle-unload, UNLOAD=5s), memory with the idle documents unloaded.
#  2. STORED documents generated straight into a fresh data file
#     (cowrite-bench -workload gen-docs, server stopped); then the server's
#     start-up time to a 200 from /readyz, its RSS with nothing loaded, and
#     GET /api/docs page latency through the whole list (LIST_LIMIT per page).
#
#   bench/scale.sh                                    CONNS=10000 DOCS=2000 STORED=100000
#   CONNS=2000 DOCS=400 STORED=10000 DUR=5s bench/scale.sh   a short validation
#   PARTS=2 bench/scale.sh                            only the stored-documents part
#
# PPROF=1 (default) runs part 1 on the profiling build of bench/profile.sh
# (bin/cowrite-prof, net/http/pprof on 127.0.0.1:PORT+500) so that each
# phase forces a GC first and reports the live heap; PPROF=0 uses bin/cowrite.
#
# Limits: each connection is a file descriptor in the server and in the load
# tool; the script raises `ulimit -n` to the hard limit and refuses to run
# when it is below CONNS + 1000. All connections come from 127.0.0.1 to one
# port, so the ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range,
# 28,231 ports by default) bounds CONNS too. Results: JSON in
# $RESULTS (bench/results/scale), a summary on stdout and in scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib.sh
. bench/lib.sh
CONNS=${CONNS:-10000}
DOCS=${DOCS:-2000}
PER_CONN_RATE=${PER_CONN_RATE:-1}
DUR=${DUR:-10s}
UNLOAD=${UNLOAD:-5s} # whole seconds, "Ns"
STORED=${STORED:-100000}
LIST_LIMIT=${LIST_LIMIT:-50}
PIN=${PIN:-1}
PARTS=${PARTS:-1 2}
PPROF=${PPROF:-1}
BIN=$ROOT/bin
RES=${RESULTS:-$ROOT/bench/results/scale}
WORK=$(mktemp -d)
PORT=${PORT:-3660}
SERVER_PID=
trap cleanup EXIT

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < CONNS + 1000)); then
	echo "scale: ulimit -n is $(ulimit -n), need at least CONNS + 1000 = $((CONNS + 1000))" >&2
	exit 1
fi
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
if ((hi - lo < CONNS + 1000)); then
	echo "scale: the ephemeral port range $lo-$hi has fewer than CONNS + 1000 ports" >&2
	exit 1
fi

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	echo "== build" >&2
	mkdir -p "$BIN"
	go build -o "$BIN/cowrite" .
	go build -o "$BIN/cowrite-bench" ./bench/cmd/cowrite-bench
	if [[ $PPROF == 1 ]]; then bash bench/profile.sh build; fi
fi
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
srv_pin=() tool_pin=()
if [[ $PIN == 1 ]]; then srv_pin=(taskset -c 0) tool_pin=(taskset -c 1); fi

# start_cowrite [binary]: the server on $WORK/data.
start_cowrite() {
	PORT=$((PORT + 1))
	"${srv_pin[@]}" "${1:-$BIN/cowrite}" --addr "127.0.0.1:$PORT" --data "$WORK/data" \
		--ops-per-second -1 --max-collaborators 1000 --max-connections $((CONNS + 1000)) \
		--idle-unload "$UNLOAD" --log-level warn >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

# start_ready: starts the server on $WORK/data and sets READY_MS to the
# milliseconds until /readyz answers 200 (not in a subshell: SERVER_PID).
start_ready() {
	local t0 t1
	t0=$(date +%s%N)
	start_cowrite
	until curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			cat "$WORK/server.log" >&2
			return 1
		fi
		sleep 0.01
	done
	t1=$(date +%s%N)
	READY_MS=$(((t1 - t0) / 1000000))
}

: >"$WORK/connections.txt"
: >"$WORK/list.txt"
if [[ " $PARTS " == *" 1 "* ]]; then
echo "== 1. $CONNS connections over $DOCS documents at $PER_CONN_RATE op/s each" >&2
rm -rf "$WORK/data"
pprof_args=()
if [[ $PPROF == 1 ]]; then
	export PPROF_ADDR=127.0.0.1:$((PORT + 501))
	start_cowrite "$BIN/cowrite-prof"
	pprof_args=(-pprof-url "http://$PPROF_ADDR" -heap-dir "$RES")
	unset PPROF_ADDR
else
	start_cowrite
fi
await_server cowrite
unload_wait=$(($(echo "$UNLOAD" | sed 's/s$//') + 60))s
"${tool_pin[@]}" "$BIN/cowrite-bench" -q -url "http://127.0.0.1:$PORT" -server-pid "$SERVER_PID" \
	-workload scale -c "$CONNS" -docs "$DOCS" -per-conn-rate "$PER_CONN_RATE" -duration "$DUR" \
	-unload-wait "$unload_wait" "${pprof_args[@]}" -json "$RES/connections.json" | tee "$WORK/connections.txt" >&2 ||
	echo "!! scale run failed (exit $?)" >&2
stop_server
fi

if [[ " $PARTS " == *" 2 "* ]]; then
echo "== 2. $STORED stored documents" >&2
rm -rf "$WORK/data"
mkdir -p "$WORK/data"
start_ready
ready_empty=$READY_MS
stop_server
rm -rf "$WORK/data"
mkdir -p "$WORK/data"
"$BIN/cowrite-bench" -q -workload gen-docs -data "$WORK/data" -gen-docs "$STORED" -c 256 -json "$RES/gen-docs.json" | tee "$WORK/gen.txt" >&2
size=$(du -k "$WORK/data/cowrite.db" | cut -f1)
start_ready
ready=$READY_MS
rss_ready=$(rss)
"${tool_pin[@]}" "$BIN/cowrite-bench" -q -url "http://127.0.0.1:$PORT" -server-pid "$SERVER_PID" \
	-workload list -list-limit "$LIST_LIMIT" -json "$RES/list.json" | tee "$WORK/list.txt" >&2
rss_listed=$(rss)
stop_server
fi

{
	echo "Scale, $(date -u +%FT%TZ), PIN=$PIN"
	if [[ " $PARTS " == *" 1 "* ]]; then
	echo
	echo "1. $CONNS connections over $DOCS documents, $PER_CONN_RATE op/s each for $DUR:"
	grep -E '^(committed ops|latency|ack p999|broadcast|offered|phases|server rss|rss |server cores|server cpu|errors|note|  )' "$WORK/connections.txt" | sed 's/^/   /'
	fi
	if [[ " $PARTS " == *" 2 "* ]]; then
	echo
	echo "2. $STORED stored documents (data file $((size / 1024)) MiB):"
	grep -E '^generated' "$WORK/gen.txt" | sed 's/^/   /'
	echo "   start-up to /readyz: ${ready} ms (empty data directory: ${ready_empty} ms; includes process start; polled every 10 ms)"
	echo "   server RSS when ready: ${rss_ready} KiB; after listing every page: ${rss_listed} KiB"
	grep -E '^(pages|page latency|  )' "$WORK/list.txt" | sed 's/^/   /'
	fi
} | tee "$RES/scale.md"
