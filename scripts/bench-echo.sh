#!/usr/bin/env bash
# Benchmarks the agent's TCP echo service on loopback against two baselines:
#   textbook  the goroutine-per-connection Go server (scripts/bench/textbook-echo)
#   python    the seed tutorial's ThreadingTCPServer (scripts/bench/seed_echo_server.py)
#
# Phase "rtt":  64-byte request/response round trips (one outstanding request
#               per connection) at 1, 50 and 500 connections: throughput,
#               p50/p99 latency, failures and wrong replies.
# Phase "idle": RSS growth per idle connection at 5000 and 10000 connections,
#               each server restarted fresh for every measurement. Kernel
#               socket memory is not part of RSS and is not reported.
#
# Usage: scripts/bench-echo.sh        (results on stdout, progress on stderr)
#
# Environment:
#   BENCH_DURATION=5s          length of each rtt run (e.g. 2s, 1500ms, 1m)
#   BENCH_CONNS="1 50 500"     connection counts for the rtt phase
#   BENCH_IDLE_CONNS="5000 10000"  connection counts for the idle phase
#   BENCH_ONLY=rtt|idle        run one phase only
#   BENCH_AGENT=/path          agent binary to use (default: dist/edge-agent,
#                              else built from ./agent/cmd/edge-agent);
#                              BENCH_AGENT=none benchmarks the baselines only
#   BENCH_PYTHON=/path         interpreter for the Python baseline
#   BENCH_SKIP_PYTHON_IDLE=1   leave the Python server out of the idle phase
#
# The load generator runs on the same machine and competes with the server
# for CPU; compare the columns of one run with each other, not with numbers
# from another host.
set -euo pipefail

# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh" bench-echo

command_line=$(command_line_of BENCH_DURATION BENCH_CONNS BENCH_IDLE_CONNS BENCH_ONLY BENCH_AGENT BENCH_PYTHON BENCH_SKIP_PYTHON_IDLE)

duration=${BENCH_DURATION:-5s}
rtt_conns=${BENCH_CONNS:-1 50 500}
idle_conns=${BENCH_IDLE_CONNS:-5000 10000}
only=${BENCH_ONLY:-}
case $only in
"" | rtt | idle) ;;
*) die "BENCH_ONLY must be rtt or idle, not '$only'" ;;
esac

duration_secs=$(whole_seconds "$duration") ||
	die "BENCH_DURATION must look like 5s, 1500ms or 1m, not '$duration'"

make_tmp

# ---------------------------------------------------------------------------
# Tools and binaries

command -v go >/dev/null || die "go not found in PATH"
say "building echoload and textbook-echo into $tmp"
go build -o "$tmp/echoload" ./scripts/bench/echoload
go build -o "$tmp/textbook-echo" ./scripts/bench/textbook-echo
echoload=$tmp/echoload

pick_agent "the textbook and Python baselines" baselines

python=${BENCH_PYTHON:-}
if [[ -z $python ]]; then
	# The distribution interpreter, when present, rather than whatever a
	# version manager put first in PATH, so runs on one host are comparable.
	if [[ -x /usr/bin/python3 ]]; then
		python=/usr/bin/python3
	else
		python=$(command -v python3) || die "python3 not found (set BENCH_PYTHON)"
	fi
fi

servers=()
[[ -n $agent ]] && servers+=(agent)
servers+=(textbook python)

# Every connection costs a descriptor in the server and one in echoload.
want_nofile=65536
if ! ulimit -n "$want_nofile" 2>/dev/null; then
	hard=$(ulimit -Hn)
	say "note: cannot raise ulimit -n to $want_nofile; using the hard limit $hard"
	ulimit -n "$hard" 2>/dev/null || true
fi
nofile=$(ulimit -n)
[[ $nofile == unlimited ]] && nofile=1048576

# ---------------------------------------------------------------------------
# Servers

# start_server NAME: starts NAME on a fresh port (a new port each time, so
# TIME_WAIT entries from the previous run cannot interfere), waits until it
# serves echo requests and sets srv_pid and srv_port.
start_server() {
	local name=$1 log=$tmp/$1.log
	srv_port=$("$echoload" -mode freeport)
	case $name in
	agent)
		EDGE_ECHO_ADDR=127.0.0.1:$srv_port \
			EDGE_ECHO_MAX_CONNS=30000 \
			EDGE_ECHO_MAX_CONNS_PER_SOURCE=30000 \
			EDGE_ECHO_IDLE_TIMEOUT=30m \
			EDGE_ECHO_UDP_RATE_LIMIT=0 \
			EDGE_LOG_LEVEL=warn \
			EDGE_NTP_ADDR=off EDGE_TIME_ADDR=off EDGE_FILE_ADDR=off EDGE_MQTT_URL=off \
			"$agent" run >>"$log" 2>&1 &
		;;
	textbook)
		"$tmp/textbook-echo" -addr "127.0.0.1:$srv_port" >>"$log" 2>&1 &
		;;
	python)
		"$python" "$root/scripts/bench/seed_echo_server.py" 127.0.0.1 "$srv_port" >>"$log" 2>&1 &
		;;
	esac
	srv_pid=$!
	live[$srv_pid]=1

	if ! wait_until "$srv_pid" $((SECONDS + 30)) \
		"$echoload" -mode probe -addr "127.0.0.1:$srv_port" -wait 500ms 2>/dev/null; then
		tail -n 20 "$log" >&2 || true
		kill -0 "$srv_pid" 2>/dev/null || die "$name exited during startup (log above)"
		die "$name is not serving on 127.0.0.1:$srv_port after 30s (log above)"
	fi
}

rss_kib() {
	local v
	v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true)
	echo "${v:-0}"
}

# settled_rss_kib PID: VmRSS once two reads 200ms apart agree within 1%, so
# lazily faulted pages and deferred work (GC, thread start-up) are counted.
settled_rss_kib() {
	local pid=$1 prev cur deadline=$((SECONDS + 20))
	prev=$(rss_kib "$pid")
	while :; do
		sleep 0.2
		cur=$(rss_kib "$pid")
		if ((cur * 100 <= prev * 101 && cur * 100 >= prev * 99)); then
			break
		fi
		if ((SECONDS >= deadline)); then
			say "warning: RSS of pid $pid still changing after 20s (${prev} -> ${cur} KiB)"
			break
		fi
		prev=$cur
	done
	echo "$cur"
}

whole() {
	awk -v v="$1" 'BEGIN { printf "%.0f", v }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}

# ---------------------------------------------------------------------------
# Host description for the summary

host_desc() {
	printf '%s, %s; load generator on the same host; ulimit -n %s' \
		"$(host_desc_base)" "$(python_version "$python")" "$nofile"
}

# ---------------------------------------------------------------------------
# Phase rtt

# Read through the nameref in cell(), which shellcheck cannot follow.
# shellcheck disable=SC2034
declare -A rps=() failed=() wrong=() p50=() p99=()

run_rtt_phase() {
	local name n out bound
	declare -A port=() pid=()
	for name in "${servers[@]}"; do
		start_server "$name"
		port[$name]=$srv_port
		pid[$name]=$srv_pid
		say "started $name on 127.0.0.1:$srv_port (pid $srv_pid)"
	done

	# The run ends itself after the duration; the bound covers dialing (up to
	# 5s per wave of 200 connects), the last 5s read deadline and a margin.
	for n in $rtt_conns; do
		bound=$((duration_secs + 5 * (n / 200 + 1) + 30))
		for name in "${servers[@]}"; do
			# shellcheck disable=SC2034 # the arrays are read through cell()
			if out=$(timeout --foreground -k 5 "$bound" "$echoload" -mode rtt -addr "127.0.0.1:${port[$name]}" \
				-conns "$n" -duration "$duration" -size 64 -maxrtt 200ms 2>>"$tmp/echoload.log"); then
				rps[$name,$n]=$(whole "$(jfield "$out" rps)")
				failed[$name,$n]=$(jfield "$out" failed)
				wrong[$name,$n]=$(jfield "$out" wrong)
				p50[$name,$n]=$(whole "$(jfield "$out" p50_us)")
				p99[$name,$n]=$(whole "$(jfield "$out" p99_us)")
				say "rtt $name conns=$n: $out"
			else
				say "rtt $name conns=$n: echoload failed or exceeded ${bound}s"
				tail -n 5 "$tmp/echoload.log" >&2 || true
				rps[$name,$n]=""
				failed[$name,$n]="error"
				wrong[$name,$n]="-"
				p50[$name,$n]="-"
				p99[$name,$n]="-"
			fi
		done
	done

	for name in "${servers[@]}"; do
		stop_pid "${pid[$name]}"
	done
}

# cell NAME N ARRAY: one value for the tables, "-" when the server was not run.
cell() {
	local -n arr=$3
	local v=${arr[$1,$2]-}
	printf '%s' "${v:--}"
}

# rtt_row N SEP: sets row to the cells of the rtt tables' line for N
# connections; SEP joins each server's p50 and p99.
rtt_row() {
	local n=$1 sep=$2 s
	row=("$n" "$(cell agent "$n" rps)" "$(cell textbook "$n" rps)" "$(cell python "$n" rps)"
		"$(ratio "${rps[agent,$n]-}" "${rps[python,$n]-}")" "$(ratio "${rps[agent,$n]-}" "${rps[textbook,$n]-}")")
	for s in agent textbook python; do
		row+=("$(cell "$s" "$n" p50)$sep$(cell "$s" "$n" p99)")
	done
	row+=("$(cell agent "$n" failed)/$(cell textbook "$n" failed)/$(cell python "$n" failed)"
		"$(cell agent "$n" wrong)/$(cell textbook "$n" wrong)/$(cell python "$n" wrong)")
}

print_rtt_table() {
	local n
	local -a row
	printf '\nRound trips, 64-byte requests, %s per run (requests/s; latency in µs)\n\n' "$duration"
	printf '%6s  %11s %11s %11s  %9s %9s  %-17s %-17s %-17s  %-14s %-14s\n' \
		conns agent textbook python agent/py agent/tb "agent p50/p99" "textbook p50/p99" "python p50/p99" \
		"failed a/t/p" "wrong a/t/p"
	for n in $rtt_conns; do
		rtt_row "$n" /
		printf '%6s  %11s %11s %11s  %9s %9s  %-17s %-17s %-17s  %-14s %-14s\n' "${row[@]}"
	done
}

# ---------------------------------------------------------------------------
# Phase idle

declare -A rss_before=() rss_held=() conns_open=() conns_failed=() conns_lost=() per_conn=()
idle_servers=()
idle_skipped=()

# measure_idle NAME N
measure_idle() {
	local name=$1 n=$2 line end before after open hold_pid
	start_server "$name"
	before=$(settled_rss_kib "$srv_pid")

	# echoload prints one JSON line once every connection is open and has
	# completed an echo exchange, then holds them until its stdin closes;
	# -hold only bounds the hold if this script dies without closing it.
	coproc HOLD { exec "$echoload" -mode hold -addr "127.0.0.1:$srv_port" -conns "$n" -hold 10m 2>>"$tmp/echoload.log"; }
	# shellcheck disable=SC2153 # set by coproc
	hold_pid=$HOLD_PID
	live[$hold_pid]=1
	local rfd=${HOLD[0]} wfd=${HOLD[1]}
	if ! read -r -t 300 -u "$rfd" line; then
		line=""
	fi
	open=$(jfield "$line" conns_open)
	if [[ -n $line ]] && ((open > 0)); then
		after=$(settled_rss_kib "$srv_pid")
	else
		after=""
		say "idle $name conns=$n: echoload hold produced no result: ${line:-<nothing>}"
	fi

	exec {wfd}>&-
	end=""
	read -r -t 120 -u "$rfd" end || true
	exec {rfd}<&-
	wait "$hold_pid" 2>/dev/null || true
	unset "live[$hold_pid]"
	stop_pid "$srv_pid"

	rss_before[$name,$n]=$before
	rss_held[$name,$n]=${after:-}
	conns_open[$name,$n]=${open:-0}
	conns_failed[$name,$n]=$(jfield "$line" failed)
	conns_lost[$name,$n]=$(jfield "$end" conns_lost)
	if [[ -n $after ]]; then
		per_conn[$name,$n]=$(((after - before) * 1024 / open))
	else
		per_conn[$name,$n]=""
	fi
	say "idle $name conns=$n: open=${open:-0} failed=${conns_failed[$name,$n]:-?} lost=${conns_lost[$name,$n]:-?}" \
		"rss ${before} KiB -> ${after:-?} KiB, ${per_conn[$name,$n]:-?} bytes/conn"
}

run_idle_phase() {
	local n name
	idle_servers=()
	[[ -n $agent ]] && idle_servers+=(agent)
	idle_servers+=(textbook)
	if [[ ${BENCH_SKIP_PYTHON_IDLE:-} == 1 ]]; then
		say "BENCH_SKIP_PYTHON_IDLE=1: the Python server is left out of the idle phase"
	else
		idle_servers+=(python)
	fi
	for n in $idle_conns; do
		if ((n + 256 > nofile)); then
			say "idle conns=$n skipped: needs more than ulimit -n $nofile descriptors"
			idle_skipped+=("$n")
			continue
		fi
		for name in "${idle_servers[@]}"; do
			measure_idle "$name" "$n"
		done
	done
}

kib() {
	awk -v b="$1" 'BEGIN { if (b == "") printf "-"; else printf "%.1f", b / 1024 }'
}

mib() {
	awk -v k="$1" 'BEGIN { if (k == "") printf "-"; else printf "%.1f", k / 1024 }'
}

# idle_rows COMMAND...: runs COMMAND for each server and connection count
# measured, with the cells of its line appended: conns, server, RSS before
# and held (MiB), bytes and KiB per connection, connections open, failed
# and lost.
idle_rows() {
	local n name
	for n in $idle_conns; do
		for name in "${idle_servers[@]}"; do
			[[ -n ${rss_before[$name,$n]+set} ]] || continue
			"$@" "$n" "$name" "$(mib "${rss_before[$name,$n]}")" "$(mib "${rss_held[$name,$n]}")" \
				"${per_conn[$name,$n]:--}" "$(kib "${per_conn[$name,$n]}")" \
				"${conns_open[$name,$n]}" "${conns_failed[$name,$n]:--}" "${conns_lost[$name,$n]:--}"
		done
	done
}

print_idle_table() {
	printf '\nIdle connections: server RSS growth per connection (kernel socket memory excluded)\n\n'
	printf '%6s  %-9s %11s %11s %10s %10s  %s\n' conns server "rss before" "rss held" "B/conn" "KiB/conn" "open/failed/lost"
	idle_rows printf '%6s  %-9s %7s MiB %7s MiB %10s %10s  %s/%s/%s\n'
}

# ---------------------------------------------------------------------------
# Markdown summary

# Backticks in the format strings are Markdown code spans, not expansions.
# shellcheck disable=SC2016
print_summary() {
	local n
	local -a row
	printf '\n<!-- bench-echo summary: paste into README -->\n'
	printf '### Echo server benchmark (loopback)\n\n'
	printf 'Command: `%s`  \n' "$command_line"
	printf 'Host: %s.  \n' "$(host_desc)"
	[[ -n $agent ]] || printf 'The agent was not benchmarked (BENCH_AGENT=none).  \n'
	printf 'Baselines: *textbook* = goroutine-per-connection Go server (`scripts/bench/textbook-echo`), '
	printf '*Python* = the seed tutorial'"'"'s `ThreadingTCPServer` (`scripts/bench/seed_echo_server.py`).\n'

	if [[ $only != idle ]]; then
		printf '\n64-byte request/response round trips, one request in flight per connection, %s per run:\n\n' "$duration"
		printf '| conns | agent req/s | textbook req/s | Python req/s | agent/Python | agent/textbook | p50/p99 µs agent | p50/p99 µs textbook | p50/p99 µs Python | failed a/t/p | wrong a/t/p |\n'
		printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		for n in $rtt_conns; do
			rtt_row "$n" " / "
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${row[@]}"
		done
	fi

	if [[ $only != rtt ]]; then
		printf '\nIdle connections: growth of the server'"'"'s VmRSS per open connection, each server started fresh '
		printf 'for each measurement (kernel socket buffers are not in RSS and not counted):\n\n'
		printf '| conns | server | RSS before (MiB) | RSS held (MiB) | bytes/conn | KiB/conn | open / failed |\n'
		printf '|---:|---|---:|---:|---:|---:|---:|\n'
		# The trailing %.0s swallows the connections lost, which only the
		# console table shows.
		idle_rows printf '| %s | %s | %s | %s | %s | %s | %s / %s |\n%.0s'
		if ((${#idle_skipped[@]} > 0)); then
			printf '\nSkipped (ulimit -n %s too low): %s connections.\n' "$nofile" "${idle_skipped[*]}"
		fi
	fi
}

# ---------------------------------------------------------------------------

if [[ $only != idle ]]; then
	run_rtt_phase
	print_rtt_table
fi
if [[ $only != rtt ]]; then
	run_idle_phase
	print_idle_table
fi
print_summary
