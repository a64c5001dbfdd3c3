# shellcheck shell=bash
# What scripts/bench-echo.sh and scripts/bench-time.sh share, so that both
# parse settings, start and stop servers, and describe the host alike.
# Sourced with the script's name as the argument, which prefixes fatal
# messages and the temporary directory. It moves to the repository root,
# where the scripts find their tools and dist/, and sets root to it.

bench_name=${1:?lib.sh wants the name of the script that sources it}
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
root=$(pwd)

say() { printf '%s\n' "$*" >&2; }
die() {
	say "$bench_name: $*"
	exit 1
}

# command_line_of VAR...: the command that reproduces this run, with those of
# the settings VAR that are set, for the summary.
command_line_of() {
	local v line=""
	for v in "$@"; do
		if [[ -n ${!v+set} ]]; then
			if [[ ${!v} =~ ^[A-Za-z0-9_./:=+-]*$ ]]; then
				line+="$v=${!v} "
			else
				line+="$v=${!v@Q} "
			fi
		fi
	done
	printf '%s' "${line}scripts/$bench_name.sh"
}

# whole_seconds GO_DURATION: whole seconds, rounded up, for timeout(1),
# which does not understand Go durations; fails on any other form.
whole_seconds() {
	awk -v d="$1" 'BEGIN {
		if (match(d, /^[0-9]+(\.[0-9]+)?(ms|s|m)$/) == 0) exit 1
		n = d + 0
		if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60
		printf "%d", n + 0.999
	}'
}

# ---------------------------------------------------------------------------
# Background processes and the temporary directory

# PIDs of every background process the script started and has not reaped.
declare -A live=()

# make_tmp: creates $tmp and arranges for it and every process in live to
# go away however the script ends.
make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$bench_name.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	# A server with thousands of connections may take a moment to exit;
	# give it a bounded grace period before SIGKILL.
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "live[$pid]"
}

stop_all() {
	local pid
	for pid in "${!live[@]}"; do
		stop_pid "$pid"
	done
}

cleanup() {
	stop_all
	rm -rf "$tmp"
}

# wait_until PID DEADLINE COMMAND...: reruns COMMAND (a probe, which bounds
# each attempt itself) until it succeeds; fails as soon as PID has exited
# or $SECONDS reaches DEADLINE, so a server that dies at startup is
# reported at once rather than after the whole wait.
wait_until() {
	local pid=$1 deadline=$2
	shift 2
	until "$@"; do
		kill -0 "$pid" 2>/dev/null || return 1
		((SECONDS < deadline)) || return 1
	done
}

# ---------------------------------------------------------------------------
# The servers under test and the host

# pick_agent OTHERS KIND: sets agent to the binary to benchmark: BENCH_AGENT,
# else dist/edge-agent, else a build into $tmp. BENCH_AGENT=none leaves it
# empty, and only OTHERS (described as KIND in the hint) are benchmarked.
pick_agent() {
	agent=${BENCH_AGENT:-}
	if [[ $agent == none ]]; then
		agent=""
		say "BENCH_AGENT=none: the agent is NOT benchmarked; only $1 run"
	elif [[ -n $agent ]]; then
		[[ -x $agent ]] || die "BENCH_AGENT=$agent is not an executable file"
	elif [[ -x dist/edge-agent ]]; then
		agent=$root/dist/edge-agent
	else
		say "dist/edge-agent not found; building ./agent/cmd/edge-agent into $tmp"
		CGO_ENABLED=0 go build -trimpath -o "$tmp/edge-agent" ./agent/cmd/edge-agent ||
			die "building the agent failed; run 'make build', or set BENCH_AGENT=/path/to/edge-agent (BENCH_AGENT=none to benchmark the $2 only)"
		agent=$tmp/edge-agent
	fi
}

# python_version PYTHON: e.g. "Python 3.11.2".
python_version() {
	"$1" -c 'import platform; print("Python " + platform.python_version())'
}

# host_desc_base: kernel, CPUs and Go, the start of the summary's host line.
host_desc_base() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	printf 'Linux %s, %s CPUs%s, %s' "$(uname -r)" "$(nproc)" "${cpu:+ ($cpu)}" "$(go env GOVERSION)"
}

# jfield JSON KEY: value of KEY in the load generators' flat, one-line JSON
# output.
jfield() {
	sed -nE 's/.*"'"$2"'":"?([^",}]*)"?[,}].*/\1/p' <<<"$1"
}
