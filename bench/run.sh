#!/usr/bin/env bash
# Side-by-side benchmarks of Cowrite against its peers (Node socket.io 4.8
# with the echo handlers; ShareDB 7 with ot-text-unicode over ws).
#
#   bench/run.sh            full run (~10 min): 5 s per run, 3 rounds A B A B,
#                           pinned (server on core 0, load tool on core 1)
#                           and unpinned (two-core) variants
#   QUICK=1 bench/run.sh    ~2 min: 1 s per run, 3 rounds, pinned only
#
# Each run starts a fresh server (fresh data directory), runs one workload
# with cowrite-bench and stops the server. Raw JSON goes to
# bench/results/raw/, medians, ratios, targets and the SVG chart to
# bench/results/ (summary.json, summary.md, chart.svg).
# Environment: ROUNDS (3), DUR (5s; 1s when QUICK=1), VARIANTS
# ("pinned two-core"; "pinned" when QUICK=1), CASES (default: all of
# "echo fanout idle collab-1x20 collab-100x5 join"), RESULTS (directory,
# default bench/results), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib.sh
. bench/lib.sh
QUICK=${QUICK:-0}
ROUNDS=${ROUNDS:-3}
if [[ $QUICK == 1 ]]; then
	DUR=${DUR:-1s}
	VARIANTS=${VARIANTS:-pinned}
else
	DUR=${DUR:-5s}
	VARIANTS=${VARIANTS:-pinned two-core}
fi
BIN=$ROOT/bin
RES=${RESULTS:-$ROOT/bench/results}
CASES=${CASES:-echo fanout idle collab-1x20 collab-100x5 join}
RAW=$RES/raw
WORK=$(mktemp -d)
PORT=${PORT:-3460}
SERVER_PID=

trap cleanup EXIT

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	echo "== build" >&2
	mkdir -p "$BIN"
	go build -o "$BIN/cowrite" .
	go build -o "$BIN/sio-echo" ./e2e/sio-echo
	go build -o "$BIN/cowrite-bench" ./bench/cmd/cowrite-bench
	go build -o "$BIN/bench-report" ./bench/cmd/bench-report
	if [[ ! -d bench/peers/node_modules/sharedb ]]; then
		(cd bench/peers && npm ci --no-audit --no-fund >&2)
	fi
fi
rm -rf "$RAW"
mkdir -p "$RAW"
RES=$(cd "$RES" && pwd)
RAW=$RES/raw

# start_server <peer> <variant>: starts the server for peer on $PORT.
start_server() {
	local peer=$1 variant=$2 pin=()
	[[ $variant == pinned ]] && pin=(taskset -c 0)
	PORT=$((PORT + 1))
	case $peer in
	cowrite)
		rm -rf "$WORK/data"
		"${pin[@]}" "$BIN/cowrite" --addr "127.0.0.1:$PORT" --data "$WORK/data" \
			--ops-per-second -1 --max-collaborators 1000 --log-level warn >"$WORK/server.log" 2>&1 &
		;;
	sio-echo)
		"${pin[@]}" "$BIN/sio-echo" -addr "127.0.0.1:$PORT" -ping-interval 25s -ping-timeout 20s >"$WORK/server.log" 2>&1 &
		;;
	node-socket.io)
		"${pin[@]}" node bench/peers/sio-peer.js "$PORT" >"$WORK/server.log" 2>&1 &
		;;
	sharedb)
		"${pin[@]}" node bench/peers/sharedb-peer.js "$PORT" >"$WORK/server.log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	await_server "$peer"
}

# bench <variant> <case> <peer> <round> <cowrite-bench flags…>
bench() {
	local variant=$1 case=$2 peer=$3 round=$4
	shift 4
	local tool=()
	[[ $variant == pinned ]] && tool=(taskset -c 1)
	start_server "$peer" "$variant"
	echo "== $variant $case $peer round $round" >&2
	local proto=cowrite
	[[ $peer == sharedb ]] && proto=sharedb
	"${tool[@]}" "$BIN/cowrite-bench" -q -url "http://127.0.0.1:$PORT" -proto "$proto" -server-pid "$SERVER_PID" \
		-label "$variant/$case/$peer" -json "$RAW/$variant-$case-$peer-$round.json" "$@" >&2 ||
		echo "!! $variant $case $peer round $round failed (exit $?)" >&2
	stop_server
}

want() { [[ " $CASES " == *" $1 "* ]]; }

# pair <variant> <case> <peer A> <peer B> <flags…>: A B A B … ROUNDS times.
pair() {
	local variant=$1 case=$2 a=$3 b=$4
	shift 4
	want "$case" || return 0
	for r in $(seq "$ROUNDS"); do
		bench "$variant" "$case" "$a" "$r" "$@"
		bench "$variant" "$case" "$b" "$r" "$@"
	done
}

for v in $VARIANTS; do
	pair "$v" echo sio-echo node-socket.io -workload echo -c 50 -duration "$DUR"
	pair "$v" fanout sio-echo node-socket.io -workload fanout -c 200 -window 16 -duration "$DUR"
	if [[ $v == pinned ]]; then
		pair "$v" idle sio-echo node-socket.io -workload idle -c 2000 -duration 2s
	fi
	pair "$v" collab-1x20 cowrite sharedb -workload collab -docs 1 -editors 20 -duration "$DUR"
	pair "$v" collab-100x5 cowrite sharedb -workload collab -docs 100 -editors 5 -duration "$DUR"
done
if want join; then
	first=${VARIANTS%% *}
	bench "$first" join cowrite 1 -workload join -editors 20 -join-bytes 1048576 -join-ops 100000 -join-runs 5
fi

"$BIN/bench-report" -raw "$RAW" -out "$RES" -meta "QUICK=$QUICK ROUNDS=$ROUNDS DUR=$DUR VARIANTS=$VARIANTS"
