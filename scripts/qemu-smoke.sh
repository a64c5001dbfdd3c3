#!/usr/bin/env bash
# qemu-smoke.sh — runs the ARM builds from `make cross` under qemu-user:
# `version`, then the agent itself on loopback answering, from the emulated
# binary, an echo round trip over TCP and UDP, an SNTP query, a text time
# query, a verified file upload, itself online on its embedded MQTT broker
# (seen with edge-agent fleet), and a clean SIGTERM stop; then its serial
# console and firmware bridge on pseudo-terminals (scripts/serial-smoke.py).
# The armv6 build runs on an ARM1176 (Pi Zero/1) so an ARMv7-only
# instruction would fault here rather than on a user's device.
set -euo pipefail
cd "$(dirname "$0")/.."

run_one() {
	local name=$1; shift
	local bin=dist/edge-agent-linux-$name
	local -a emu=("$@")
	[ -x "$bin" ] || { echo "qemu-smoke: $bin missing: run make cross" >&2; return 1; }

	local v
	v=$("${emu[@]}" "$bin" version)
	echo "qemu-smoke: $name: $v"
	case $name in
	armv6) [[ $v == *"linux/arm GOARM=6"* ]] ;;
	armv7) [[ $v == *"linux/arm GOARM=7"* ]] ;;
	arm64) [[ $v == *"linux/arm64"* ]] ;;
	esac || { echo "qemu-smoke: $name: unexpected version line" >&2; return 1; }

	local port nport tport fport mport log pid dir
	read -r port nport tport fport mport < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
	log=$(mktemp)
	dir=$(mktemp -d)
	EDGE_ECHO_ADDR=127.0.0.1:$port EDGE_NTP_ADDR=127.0.0.1:$nport EDGE_NTP_FALLBACK_STRATUM=10 \
		EDGE_TIME_ADDR=127.0.0.1:$tport EDGE_FILE_ADDR=127.0.0.1:$fport EDGE_FILE_DIR="$dir/in" \
		EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:$mport EDGE_DEVICE_ID="qemu-$name" EDGE_MQTT_INTERVAL=1s \
		"${emu[@]}" "$bin" run 2>"$log" &
	pid=$!
	local deadline=$((SECONDS + 30))
	until [ "$(grep -c 'msg=listening' "$log")" -ge 6 ]; do
		if ((SECONDS > deadline)) || ! kill -0 "$pid" 2>/dev/null; then
			echo "qemu-smoke: $name: agent did not start:" >&2; cat "$log" >&2; return 1
		fi
		sleep 0.1
	done
	local tcp udp sntp text
	tcp=$("${emu[@]}" "$bin" echo --timeout 20s "127.0.0.1:$port" "hello from $name")
	udp=$("${emu[@]}" "$bin" echo --udp --timeout 20s "127.0.0.1:$port" "datagram 你好")
	sntp=$("${emu[@]}" "$bin" time --timeout 20s "127.0.0.1:$nport" | grep '^stratum' || true)
	text=$("${emu[@]}" "$bin" time --timeout 20s --format '%Y 年' "127.0.0.1:$tport" || true)
	head -c 3000000 /dev/urandom >"$dir/src.bin"
	"${emu[@]}" "$bin" send "127.0.0.1:$fport" "$dir/src.bin" >/dev/null || true
	local fleet=""
	for _ in $(seq 50); do
		fleet=$("${emu[@]}" "$bin" fleet --timeout 20s --broker "tcp://127.0.0.1:$mport" --json || true)
		[[ $fleet == *'"id":"qemu-'$name'","online":true'* ]] && break
		sleep 0.2
	done
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	local same=no
	cmp -s "$dir/src.bin" "$dir/in/src.bin" && same=yes
	rm -rf "$log" "$dir"
	[ "$tcp" = "HELLO FROM ${name^^}" ] || { echo "qemu-smoke: $name: tcp reply '$tcp'" >&2; return 1; }
	[ "$udp" = "DATAGRAM 你好" ] || { echo "qemu-smoke: $name: udp reply '$udp'" >&2; return 1; }
	[[ $sntp == "stratum    10" || $sntp == "stratum    3" ]] || { echo "qemu-smoke: $name: sntp '$sntp'" >&2; return 1; }
	[ "$text" = "$(date +%Y) 年" ] || { echo "qemu-smoke: $name: text time '$text'" >&2; return 1; }
	[ "$same" = yes ] || { echo "qemu-smoke: $name: the uploaded file did not arrive intact" >&2; return 1; }
	[[ $fleet == *'"online":true'* ]] || { echo "qemu-smoke: $name: not online on its embedded broker: $fleet" >&2; return 1; }
	[ "$rc" = 0 ] || { echo "qemu-smoke: $name: exit status $rc after SIGTERM" >&2; return 1; }
	echo "qemu-smoke: $name: echo over tcp and udp, sntp ($sntp), text time, a verified 3 MB upload, online over MQTT, clean stop"

	local console
	console=$(EDGE_ECHO_ADDR=off EDGE_NTP_ADDR=off EDGE_TIME_ADDR=off EDGE_FILE_ADDR=off \
		EDGE_MQTT_EMBEDDED_ADDR=127.0.0.1:$mport python3 scripts/serial-smoke.py "${emu[@]}" "$bin" run) ||
		{ echo "qemu-smoke: $name: serial console and firmware bridge failed" >&2; return 1; }
	echo "qemu-smoke: $name: serial console login and commands, a microcontroller line bridged to MQTT: $console"
}

run_one armv6 qemu-arm-static -cpu arm1176
run_one armv7 qemu-arm-static -cpu cortex-a7
run_one arm64 qemu-aarch64-static
