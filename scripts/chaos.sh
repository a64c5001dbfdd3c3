#!/usr/bin/env bash
# The hostile-client battery: the agent with every service on, on loopback,
# under honest and hostile clients at once for CHAOS_DURATION, while the
# MQTT broker is restarted and the firmware port unplugged several times;
# then checks that it survived, kept every acknowledged upload and nothing
# partial, came back to its memory and goroutine levels, served its honest
# clients, and stops cleanly on SIGTERM. The driver is scripts/chaos
# (Go); this script builds it (and the agent unless CHAOS_AGENT is given),
# runs it in a temporary directory and stops everything it started however
# it ends (also on Ctrl-C).
#
# Usage: scripts/chaos.sh     (make chaos: builds dist/edge-agent first)
#
# Environment:
#   CHAOS_DURATION=3m   length of the mixed load (at least 10s; CI uses 3m)
#   CHAOS_WARMUP=20s    load (with a broker restart and an unplug) before the
#                       baseline is taken (see README); 0 takes it at start-up
#   CHAOS_SETTLE=3m     longest wait after the load for RSS and goroutines
#                       to come back within 10% of their level before it
#   CHAOS_AGENT=/path   agent binary (default: built from ./agent/cmd/edge-agent
#                       into the temporary directory)
#   CHAOS_GODEBUG=...   GODEBUG for the agent, e.g. madvdontneed=1, to tell
#                       a leak from the runtime keeping freed heap
#   TMPDIR              where the temporary directory goes
#
# Needs: go, mosquitto (Debian mosquitto; make deps installs it).
# Exit status 0 when every check passed; 1 naming each failed check (the
# temporary directory, with the agent's and mosquitto's logs, is kept).
set -euo pipefail

# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh" chaos

duration=${CHAOS_DURATION:-3m}
secs=$(whole_seconds "$duration") || die "CHAOS_DURATION must be a duration such as 30s or 3m, not '$duration'"
((secs >= 10)) || die "CHAOS_DURATION must be at least 10s, not '$duration'"
settle=${CHAOS_SETTLE:-3m}
whole_seconds "$settle" >/dev/null || die "CHAOS_SETTLE must be a duration such as 90s or 3m, not '$settle'"
command -v go >/dev/null || die "go not found (export PATH=/usr/local/go/bin:\$PATH)"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[[ -x $mosquitto ]] || die "mosquitto not found; on Debian: apt-get install -y mosquitto (make deps installs it)"

agent=${CHAOS_AGENT:-}
make_tmp
keep=0
# Replaces lib.sh's cleanup: the driver stops its agent and mosquitto
# itself; should it have been killed, what it recorded starting is killed
# here (checked to be that program, as a pid may have been reused), and
# the directory of a failed run is kept for its logs.
cleanup() {
	stop_all
	local pid exe
	if [[ -f $tmp/children.pids ]]; then
		while read -r pid; do
			exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
			if [[ $exe == "$agent" || $exe == "$mosquitto" ]]; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done <"$tmp/children.pids"
	fi
	if ((keep)); then
		say "chaos: logs kept in $tmp (agent.log, mosquitto.log, received/)"
	else
		rm -rf "$tmp"
	fi
}

if [[ -n $agent ]]; then
	[[ -x $agent ]] || die "CHAOS_AGENT=$agent is not an executable file"
	agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")
else
	say "chaos: building the agent into $tmp"
	CGO_ENABLED=0 go build -trimpath -o "$tmp/edge-agent" ./agent/cmd/edge-agent || die "building the agent failed"
	agent=$tmp/edge-agent
fi
mosquitto=$(readlink -f "$mosquitto")
agent=$(readlink -f "$agent")
go build -o "$tmp/chaos" ./scripts/chaos || die "building scripts/chaos failed"

# The driver bounds every phase, and itself as a whole.
args=(-agent "$agent" -mosquitto "$mosquitto" -dir "$tmp" -duration "$duration" -settle "$settle" -warmup "${CHAOS_WARMUP:-20s}")
[[ -n ${CHAOS_GODEBUG:-} ]] && args+=(-godebug "$CHAOS_GODEBUG")
say "chaos: $(command_line_of CHAOS_DURATION CHAOS_WARMUP CHAOS_SETTLE CHAOS_AGENT CHAOS_GODEBUG) on $(host_desc_base)"
"$tmp/chaos" "${args[@]}" &
pid=$!
live[$pid]=1
status=0
wait "$pid" || status=$?
unset "live[$pid]"
((status == 0)) || keep=1
say "chaos: finished in ${SECONDS}s with status $status"
exit "$status"
