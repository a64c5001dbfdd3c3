#!/usr/bin/env bash
# bench-footprint.sh — the whole agent's footprint while idle: every
# service on (loopback ports), MQTT connected to a mosquitto of its own,
# state every 30 s. Reports VmRSS, VmHWM and the CPU the agent used over a
# quiet minute (BENCH_IDLE, default 60s).
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${BENCH_IDLE:-60}
bin=${BENCH_AGENT:-dist/edge-agent}
[ -x "$bin" ] || go build -o "$bin" ./agent/cmd/edge-agent
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "needs mosquitto (Debian package mosquitto)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
read -r mport eport tport fport nport < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mport" >"$tmp/m.conf"
"$(command -v mosquitto || echo /usr/sbin/mosquitto)" -c "$tmp/m.conf" 2>/dev/null &
pids+=($!)
EDGE_MQTT_URL=tcp://127.0.0.1:$mport EDGE_DEVICE_ID=footprint EDGE_LOG_LEVEL=warn \
	EDGE_ECHO_ADDR=127.0.0.1:$eport EDGE_TIME_ADDR=127.0.0.1:$tport EDGE_FILE_ADDR=127.0.0.1:$fport \
	EDGE_FILE_DIR="$tmp/in" EDGE_NTP_ADDR=127.0.0.1:$nport "$bin" run &
agent=$!
pids+=("$agent")
# Connected once the retained availability says so.
deadline=$((SECONDS + 30))
until [ "$("$bin" fleet --broker "tcp://127.0.0.1:$mport" --json 2>/dev/null | grep -c '"online":true')" = 1 ]; do
	((SECONDS < deadline)) || { echo "the agent did not connect" >&2; exit 1; }
	sleep 0.2
done
ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep "$idle"
t1=$(ticks)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$idle" 'BEGIN {printf "%.3f", (b - a) / hz / s * 100}')
echo "agent idle with every service on and MQTT connected to mosquitto, over ${idle}s:"
echo "  VmRSS $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MiB ($rss KiB), VmHWM $((hwm / 1024)).$(((hwm % 1024) * 10 / 1024)) MiB"
echo "  CPU $cpu % of one core ($((t1 - t0)) ticks of 1/$hz s)"
echo "command: scripts/bench-footprint.sh"
