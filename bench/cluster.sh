#!/usr/bin/env bash
# Cluster mode against a single node, same workloads (issue 13): 3 nats-server
# (JetStream, R3, routed) and 3 cowrite --cluster nodes on loopback, the load
# tool spreading its connections over the three nodes in turn
# (cowrite-bench -url a,b,c), then one single-node cowrite (bbolt) with the
# same load. Nothing is pinned: on a 2-core machine both setups share both
# cores with the load tool, so read the cluster as a correctness rig whose
# figures bound the JetStream path, not as a speed-up.
#
#   bench/cluster.sh                 ROUNDS=1 DUR=8s
#
# Workloads: collab 1 doc × 20 editors and 100 docs × 5 editors (closed
# loop), and 100 × 5 at a fixed RATE (2000) ops/s (open loop). CPU is the
# sum of utime+stime of every server process (cowrite and nats-server) over
# the whole run (joins included), per committed op. Output: a table on stdout and in
# $RESULTS/cluster.md (default bench/results/cluster), raw JSON in
# $RESULTS/raw. Environment: ROUNDS, DUR, RATE, RESULTS, SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-1}
DUR=${DUR:-8s}
RATE=${RATE:-2000}
RES=${RESULTS:-$ROOT/bench/results/cluster}
BIN=$ROOT/bin
WORK=$(mktemp -d)
PIDS=()

stop_all() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
	go build -o "$BIN/cowrite" .
	go build -o "$BIN/cowrite-bench" ./bench/cmd/cowrite-bench
	[[ -x $BIN/nats-server ]] || make nats-server >&2
fi
mkdir -p "$RES/raw"
rm -f "$RES"/raw/*.log

# wait_ready URL: until /readyz answers 200 (≤ 90 s: JetStream elects leaders).
wait_ready() {
	for _ in $(seq 900); do
		if curl -sf "$1/readyz" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "not ready: $1" >&2
	tail -20 "$WORK"/*.log >&2
	return 1
}

# cpu_ticks: utime+stime of every started process, summed.
cpu_ticks() {
	local sum=0 p f
	for p in "${PIDS[@]}"; do
		read -r -a f <"/proc/$p/stat" || continue
		sum=$((sum + f[13] + f[14]))
	done
	echo "$sum"
}

start_cluster() {
	local d=$WORK/c$1 routes i
	rm -rf "$d"
	mkdir -p "$d"
	routes=nats://127.0.0.1:16221,nats://127.0.0.1:16222,nats://127.0.0.1:16223
	for i in 1 2 3; do
		"$BIN/nats-server" -js -sd "$d/n$i" -n "n$i" -a 127.0.0.1 -p $((14220 + i)) \
			--cluster_name cowrite --cluster "nats://127.0.0.1:$((16220 + i))" --routes "$routes" \
			>"$WORK/nats$i.log" 2>&1 &
		PIDS+=($!)
	done
	local nats=nats://127.0.0.1:14221,nats://127.0.0.1:14222,nats://127.0.0.1:14223
	for i in 1 2 3; do
		"$BIN/cowrite" --addr "127.0.0.1:$((15220 + i))" --cluster "$nats" --node-id "cw$i" \
			--advertise "http://127.0.0.1:$((15220 + i))" --ops-per-second -1 --max-collaborators 1000 \
			--log-level warn --cluster-connect-timeout 90s >"$WORK/cw$i.log" 2>&1 &
		PIDS+=($!)
	done
	for i in 1 2 3; do wait_ready "http://127.0.0.1:$((15220 + i))"; done
	# As e2e/cluster/rig.mjs: start only once every node counts all three
	# members active, so that they agree on every document's owner (while
	# views differ, see docs/cluster.md, a node may serve a stale document).
	for i in 1 2 3; do
		for _ in $(seq 300); do
			curl -s "http://127.0.0.1:$((15220 + i))/metrics" | grep -q '^cowrite_cluster_active_members 3$' && break
			sleep 0.1
		done
	done
	URL=http://127.0.0.1:15221,http://127.0.0.1:15222,http://127.0.0.1:15223
}

start_single() {
	rm -rf "$WORK/single"
	"$BIN/cowrite" --addr 127.0.0.1:15230 --data "$WORK/single" --ops-per-second -1 \
		--max-collaborators 1000 --log-level warn >"$WORK/single.log" 2>&1 &
	PIDS+=($!)
	wait_ready http://127.0.0.1:15230
	URL=http://127.0.0.1:15230
}

# run SETUP CASE ROUND: one fresh setup, one workload.
run() {
	local setup=$1 case=$2 round=$3 args=() out t0 t1
	case $case in
	1x20) args=(-docs 1 -editors 20) ;;
	100x5) args=(-docs 100 -editors 5) ;;
	rate) args=(-docs 100 -editors 5 -rate "$RATE") ;;
	esac
	"start_$setup" "$round"
	out=$RES/raw/$setup-$case-$round.json
	t0=$(cpu_ticks)
	"$BIN/cowrite-bench" -q -workload collab "${args[@]}" -duration "$DUR" -url "$URL" \
		-label "$setup $case" -json "$out" >"$WORK/bench-$setup-$case.log" 2>&1 || { echo "cowrite-bench failed ($setup $case):" >&2; grep -v "^  " "$WORK/bench-$setup-$case.log" | tail -5 >&2; cp "$WORK/bench-$setup-$case.log" "$RES/raw/$setup-$case-$round.log"; for l in "$WORK"/cw*.log; do [[ -e $l ]] && cp "$l" "$RES/raw/$setup-$case-$round-$(basename "$l")"; done; }
	t1=$(cpu_ticks)
	stop_all
	python3 - "$out" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
p, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(p))
d["all_servers_cpu_s"] = ticks / hz
json.dump(d, open(p, "w"))
EOF
}

for round in $(seq "$ROUNDS"); do
	for c in ${CASES:-1x20 100x5 rate}; do
		for s in cluster single; do
			echo "== $s $c round $round" >&2
			run "$s" "$c" "$round"
		done
	done
done

python3 - "$RES" "$DUR" "$RATE" <<'EOF' | tee "$RES/cluster.md"
import glob, json, os, statistics, sys
res, dur, rate = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
for p in glob.glob(os.path.join(res, "raw", "*.json")):
    setup, case, _ = os.path.basename(p)[:-5].split("-")
    rows.setdefault((case, setup), []).append(json.load(open(p)))
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"3 NATS + 3 cowrite --cluster vs one cowrite (bbolt), loopback, unpinned, {dur} per run;")
print("CPU: all server processes (cowrite and nats-server), utime+stime over the whole run (joins included) per committed op.\n")
print("| workload | setup | committed ops/s | ack p50 / p99 ms | delivery p50 / p99 ms | server CPU µs/op | errors |")
print("| --- | --- | ---: | --- | --- | ---: | ---: |")
names = {"1x20": "1 doc × 20 editors", "100x5": "100 docs × 5 editors", "rate": f"100 × 5 at {rate} ops/s"}
for case in ["1x20", "100x5", "rate"]:
    for setup in ["cluster", "single"]:
        r = rows.get((case, setup), [])
        if not r:
            continue
        ops = med([x["rate"] for x in r])
        cpu = med([x["all_servers_cpu_s"] / max(x["ops"], 1) * 1e6 for x in r])
        print(f"| {names[case]} | {setup} | {ops:,.0f} | {med([x['p50_ms'] for x in r]):.2f} / {med([x['p99_ms'] for x in r]):.1f} | "
              f"{med([x['bcast_p50_ms'] for x in r]):.2f} / {med([x['bcast_p99_ms'] for x in r]):.1f} | {cpu:,.0f} | {sum(x['errors'] for x in r)} |")
EOF
