#!/usr/bin/env bash
# Fixed offered rates (open loop): Cowrite, ShareDB 7 and Hocuspocus 4 side
# by side over DOCS × EDITORS at each of RATES ops/s in total (Poisson
# arrivals spread over the editors), the server pinned to core 0 and the
# load on core 1 (as bench/run.sh). Per run: server CPU per op
# (/proc/<pid>/stat utime+stime over the measured window), ack p50/p99/p999,
# delivery to the other editors p50/p99, server RSS, and the latency
# histograms in the raw JSON.
#
#   bench/rates.sh                      RATES="1000 3000", ROUNDS=2, DUR=10s
#   ROUNDS=1 DUR=5s bench/rates.sh      a short validation
#
# Environment: RATES, ROUNDS, DUR, DOCS (100), EDITORS (5), PEERS
# ("cowrite sharedb hocuspocus"), ARRIVALS (poisson|uniform), HP_PROCS (Node
# driver processes for Hocuspocus, 3), PIN (1; 0 = no taskset), HP_CPUS
# (the cores of the Hocuspocus driver when PIN=1, default 1 like the other
# load; a Node driver needs ~450 µs of CPU per update, all editors applying
# every broadcast, so one core tops out near 2,200 updates/s: use "0,1" to
# reach 3,000 at the price of sharing the server's core), HP_OBSERVERS
# (editors per document that apply the broadcasts, default all; 1 halves
# the driver's CPU per update, see driver.js -observers), RESULTS
# (bench/results/rates), SKIP_BUILD=1. Raw JSON goes to $RESULTS/raw, the
# table (medians over rounds) to stdout and $RESULTS/rates.md.
#
# Not the same durability: Cowrite fsyncs before every ack; ShareDB runs on
# its in-memory database; Hocuspocus' SQLite extension stores a document 2 s
# after its last change and at most every 10 s while it keeps changing, and
# its ack (SyncStatus) means "applied in memory".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib.sh
. bench/lib.sh
RATES=${RATES:-1000 3000}
ROUNDS=${ROUNDS:-2}
DUR=${DUR:-10s}
DOCS=${DOCS:-100}
EDITORS=${EDITORS:-5}
PEERS=${PEERS:-cowrite sharedb hocuspocus}
ARRIVALS=${ARRIVALS:-poisson}
HP_PROCS=${HP_PROCS:-3}
HP_CPUS=${HP_CPUS:-1}
HP_OBSERVERS=${HP_OBSERVERS:-0}
PIN=${PIN:-1}
BIN=$ROOT/bin
RES=${RESULTS:-$ROOT/bench/results/rates}
WORK=$(mktemp -d)
PORT=${PORT:-3560}
SERVER_PID=

trap cleanup EXIT

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	echo "== build" >&2
	mkdir -p "$BIN"
	go build -o "$BIN/cowrite" .
	go build -o "$BIN/cowrite-bench" ./bench/cmd/cowrite-bench
	[[ -d bench/peers/node_modules/sharedb ]] || (cd bench/peers && npm ci --no-audit --no-fund >&2)
	[[ -d bench/peers/hocuspocus/node_modules/@hocuspocus/server ]] || (cd bench/peers/hocuspocus && npm ci --no-audit --no-fund >&2)
fi
mkdir -p "$RES/raw"
RES=$(cd "$RES" && pwd)
rm -f "$RES"/raw/*.json

srv_pin=() tool_pin=() hp_pin=()
if [[ $PIN == 1 ]]; then srv_pin=(taskset -c 0) tool_pin=(taskset -c 1) hp_pin=(taskset -c "$HP_CPUS"); fi

start_server() {
	local peer=$1
	PORT=$((PORT + 1))
	rm -rf "$WORK/data"
	mkdir -p "$WORK/data"
	case $peer in
	cowrite)
		"${srv_pin[@]}" "$BIN/cowrite" --addr "127.0.0.1:$PORT" --data "$WORK/data" \
			--ops-per-second -1 --max-collaborators 1000 --log-level warn >"$WORK/server.log" 2>&1 &
		;;
	sharedb)
		"${srv_pin[@]}" node bench/peers/sharedb-peer.js "$PORT" >"$WORK/server.log" 2>&1 &
		;;
	hocuspocus)
		"${srv_pin[@]}" node bench/peers/hocuspocus/server.js "$PORT" "$WORK/data/hocuspocus.sqlite" >"$WORK/server.log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	await_server "$peer"
}

run_one() {
	local peer=$1 rate=$2 round=$3
	local out=$RES/raw/$peer-$rate-$round.json
	start_server "$peer"
	echo "== $peer $rate ops/s round $round" >&2
	case $peer in
	hocuspocus)
		"${hp_pin[@]}" node bench/peers/hocuspocus/driver.js -q -url "ws://127.0.0.1:$PORT" -server-pid "$SERVER_PID" \
			-docs "$DOCS" -editors "$EDITORS" -rate "$rate" -arrivals "$ARRIVALS" -duration "$DUR" -procs "$HP_PROCS" -observers "$HP_OBSERVERS" \
			-label "$peer/$rate" -json "$out" >&2 || echo "!! $peer $rate round $round failed (exit $?)" >&2
		;;
	*)
		"${tool_pin[@]}" "$BIN/cowrite-bench" -q -url "http://127.0.0.1:$PORT" -proto "$peer" -server-pid "$SERVER_PID" \
			-workload collab -docs "$DOCS" -editors "$EDITORS" -rate "$rate" -arrivals "$ARRIVALS" -duration "$DUR" \
			-label "$peer/$rate" -json "$out" >&2 || echo "!! $peer $rate round $round failed (exit $?)" >&2
		;;
	esac
	stop_server
}

for rate in $RATES; do
	for r in $(seq "$ROUNDS"); do
		for peer in $PEERS; do
			run_one "$peer" "$rate" "$r"
		done
	done
done

node bench/rates-table.js "$RES/raw" "$DOCS x $EDITORS, $ARRIVALS arrivals, ROUNDS=$ROUNDS DUR=$DUR PIN=$PIN HP_CPUS=$HP_CPUS HP_PROCS=$HP_PROCS HP_OBSERVERS=$HP_OBSERVERS" | tee "$RES/rates.md"
