# Shell helpers shared by bench/run.sh, bench/rates.sh and bench/scale.sh
# (sourced; they use $SERVER_PID, $PORT and $WORK of the caller).

# await_server <name>: waits (≤ 10 s) until 127.0.0.1:$PORT accepts, else
# prints the server log and fails.
await_server() {
	for _ in $(seq 200); do
		if (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "server $1 did not start:" >&2
	cat "$WORK/server.log" >&2
	return 1
}

# stop_server: stops the server started last and forgets its pid.
stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# cleanup (the EXIT trap): stops a server still running, removes $WORK.
cleanup() {
	if [[ -n $SERVER_PID ]]; then stop_server; fi
	rm -rf "$WORK"
}
