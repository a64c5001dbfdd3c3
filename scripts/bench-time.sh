#!/usr/bin/env bash
# Benchmarks the agent's two UDP time services on loopback against peers,
# all driven by the same load generator (scripts/bench/udpload):
#   SNTP  the agent vs chronyd serving on its own port (-x: it never touches
#         the clock; "local stratum 10": it serves while unsynchronised)
#   text  the agent vs the seed tutorial's strftime server
#         (scripts/bench/seed_time_server.py under Debian's python3)
#
# Each run: BENCH_CLIENTS clients, each one request in flight with a 200ms
# timeout, for BENCH_DURATION. Runs are repeated BENCH_REPEAT times with the
# servers interleaved (agent, peer, agent, peer ...) so slow drifts of the
# host affect both alike; the tables show the median of each figure and the
# ratios agent/peer of the medians.
#
# Server CPU per answered request comes from utime+stime in /proc/PID/stat
# of the process that holds the server's socket, read before and after each
# run. On a small machine the generator competes with the server for CPU, so
# answered/s largely measures the generator; CPU per answered request is the
# capacity figure.
#
# Usage: scripts/bench-time.sh        (results on stdout, progress on stderr)
#
# Environment:
#   BENCH_DURATION=5s     length of each run (e.g. 2s, 1500ms, 1m)
#   BENCH_REPEAT=3        runs per server and service
#   BENCH_CLIENTS=4       concurrent clients
#   BENCH_ONLY=ntp|text   benchmark one service only
#   BENCH_AGENT=/path     agent binary (default: dist/edge-agent, else built
#                         from ./agent/cmd/edge-agent); BENCH_AGENT=none
#                         benchmarks the peers only
#   BENCH_CHRONYD=/path   chronyd binary (default: from PATH or /usr/sbin)
#   BENCH_PYTHON=/path    interpreter for the seed server (default /usr/bin/python3)
#
# Nothing is installed: a missing peer is reported with its Debian package.
# Exit status 1 also when the agent was to be measured but one of its
# services did not answer; the tables are printed first.
set -euo pipefail

# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh" bench-time

command_line=$(command_line_of BENCH_DURATION BENCH_REPEAT BENCH_CLIENTS BENCH_ONLY BENCH_AGENT BENCH_CHRONYD BENCH_PYTHON)

duration=${BENCH_DURATION:-5s}
repeat=${BENCH_REPEAT:-3}
clients=${BENCH_CLIENTS:-4}
only=${BENCH_ONLY:-}
req_timeout=200ms
want_ntp=0 want_text=0
case $only in
"") protos=(ntp text) want_ntp=1 want_text=1 ;;
ntp) protos=(ntp) want_ntp=1 ;;
text) protos=(text) want_text=1 ;;
*) die "BENCH_ONLY must be ntp or text, not '$only'" ;;
esac
declare -A label=([ntp]=SNTP [text]="text time") peer=([ntp]=chronyd [text]=python)
[[ $repeat =~ ^[1-9][0-9]?$ ]] || die "BENCH_REPEAT must be a whole number 1..99, not '$repeat'"
if ! [[ $clients =~ ^[1-9][0-9]{0,3}$ ]] || ((clients > 1024)); then
	die "BENCH_CLIENTS must be a whole number 1..1024, not '$clients'"
fi

duration_secs=$(whole_seconds "$duration") ||
	die "BENCH_DURATION must look like 5s, 1500ms or 1m, not '$duration'"

make_tmp

# ---------------------------------------------------------------------------
# Tools and binaries

command -v go >/dev/null || die "go not found in PATH"
command -v getconf >/dev/null || die "getconf not found (Debian package libc-bin)"
clk_tck=$(getconf CLK_TCK)

chronyd=""
if ((want_ntp)); then
	chronyd=${BENCH_CHRONYD:-$(command -v chronyd || true)}
	[[ -n $chronyd ]] || { [[ -x /usr/sbin/chronyd ]] && chronyd=/usr/sbin/chronyd; }
	[[ -z ${BENCH_CHRONYD:-} || -x $chronyd ]] || die "BENCH_CHRONYD=$chronyd is not an executable file"
	[[ -n $chronyd ]] ||
		die "chronyd not found: install the Debian package chrony (apt-get install chrony), set BENCH_CHRONYD=/path, or run BENCH_ONLY=text"
fi

python=""
if ((want_text)); then
	python=${BENCH_PYTHON:-}
	if [[ -z $python ]]; then
		# The distribution interpreter rather than whatever a version manager
		# put first in PATH, so runs on one host are comparable.
		if [[ -x /usr/bin/python3 ]]; then
			python=/usr/bin/python3
		else
			die "/usr/bin/python3 not found: install the Debian package python3 (apt-get install python3), set BENCH_PYTHON=/path, or run BENCH_ONLY=ntp"
		fi
	fi
	[[ -x $python ]] || die "BENCH_PYTHON=$python is not an executable file"
fi

say "building udpload into $tmp"
go build -o "$tmp/udpload" ./scripts/bench/udpload
udpload=$tmp/udpload

pick_agent "chronyd and the Python server" peers

# ---------------------------------------------------------------------------
# Processes and their CPU time

# socket_pids PORT: the processes holding the UDP socket bound to
# 127.0.0.1:PORT. Measuring these rather than the PID the shell started
# covers a server that forks, hands the socket to a helper or re-executes.
socket_pids() {
	local want want6 inode
	want=$(printf '0100007F:%04X' "$1")
	# A dual-stack socket shows the address IPv4-mapped in udp6.
	want6=0000000000000000FFFF0000$want
	inode=$(cat /proc/net/udp /proc/net/udp6 2>/dev/null | awk -v a="$want" -v b="$want6" '$2 == a || $2 == b { print $10; exit }')
	[[ -n $inode && $inode != 0 ]] || return 0
	{ find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\\[$inode\\]" 2>/dev/null || true; } |
		cut -d/ -f3 | sort -un | tr '\n' ' '
}

# cpu_ticks PID...: utime + stime (fields 14 and 15 of /proc/PID/stat, all
# threads) summed over the processes, in clock ticks; empty if one is gone.
cpu_ticks() {
	local pid stat total=0
	local -a f
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
		# The command name (field 2) may contain spaces and parentheses;
		# the fields after its closing parenthesis start at field 3.
		read -ra f <<<"${stat##*) }"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# probe NAME PROTO PORT PID DEADLINE: polls until the service answers, the
# process exits or DEADLINE (in $SECONDS) passes; prints the probe's reply
# on success.
probe() {
	local name=$1 proto=$2 port=$3 pid=$4 deadline=$5 out
	out=$(wait_until "$pid" "$deadline" \
		"$udpload" -mode probe -proto "$proto" -addr "127.0.0.1:$port" -wait 500ms 2>>"$tmp/probe.log") || return 1
	say "$name answers $proto on 127.0.0.1:$port: $out"
}

# Set by start_* for the benchmark loop.
declare -A port=() pids=() not_measured=()

start_agent() {
	local log=$tmp/agent.log ntp_addr=off time_addr=off p p_ntp p_text pid deadline status last exited=""
	read -r p_ntp p_text <<<"$("$udpload" -mode freeport -n 2)"
	((want_ntp)) && ntp_addr=127.0.0.1:$p_ntp
	((want_text)) && time_addr=127.0.0.1:$p_text
	EDGE_NTP_ADDR=$ntp_addr EDGE_NTP_RATE_LIMIT=0 EDGE_NTP_FALLBACK_STRATUM=10 \
		EDGE_TIME_ADDR=$time_addr EDGE_TIME_RATE_LIMIT=0 \
		EDGE_ECHO_ADDR=off EDGE_FILE_ADDR=off EDGE_MQTT_URL=off EDGE_LOG_LEVEL=warn \
		"$agent" run >>"$log" 2>&1 &
	pid=$!
	live[$pid]=1
	say "started agent $agent (pid $pid; SNTP $ntp_addr, text time $time_addr)"

	# A service the build does not have never answers; the first one gets
	# time for the process to start, the second only a little more.
	deadline=$((SECONDS + 10))
	for p in "${protos[@]}"; do
		if [[ $p == ntp ]]; then port[agent,$p]=$p_ntp; else port[agent,$p]=$p_text; fi
		if [[ -n $exited ]]; then
			not_measured[$p]="the agent's ${label[$p]} service never answered: $exited"
		elif probe agent "$p" "${port[agent,$p]}" "$pid" "$deadline"; then
			pids[agent,$p]=$(socket_pids "${port[agent,$p]}")
			check_pids agent "$p" "$pid"
			continue
		elif ! kill -0 "$pid" 2>/dev/null; then
			# An agent with no service it knows how to run exits at once with
			# status 0: the build predates the service, which is not fatal
			# for benchmarking the peers.
			status=0
			wait "$pid" || status=$?
			unset "live[$pid]"
			tail -n 20 "$log" >&2 || true
			last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)
			exited="the agent exited during startup with status $status (${last:-no log output})"
			not_measured[$p]="the agent's ${label[$p]} service never answered: $exited"
		else
			not_measured[$p]="the agent's ${label[$p]} service did not answer on 127.0.0.1:${port[agent,$p]} within 10s (last probe: $(tail -n 1 "$tmp/probe.log" 2>/dev/null | sed 's/^udpload: //'))"
		fi
		say "*** NOT MEASURED: ${not_measured[$p]}"
		say "*** this agent build may not have the ${label[$p]} service yet; the peer is benchmarked alone"
		deadline=$((SECONDS + 2))
	done
}

# check_pids NAME PROTO STARTED_PID: the socket holder must be the process
# this script started; anything else is reported, and the holder measured.
check_pids() {
	local name=$1 proto=$2 started=$3 holders
	holders=${pids[$name,$proto]}
	if [[ -z $holders ]]; then
		say "warning: no process found holding 127.0.0.1:${port[$name,$proto]}; measuring pid $started"
		pids[$name,$proto]=$started
	elif [[ $holders != "$started " ]]; then
		say "note: $name's socket is held by pid(s) ${holders}(started pid $started); measuring those"
	fi
}

# start_peer NAME PROTO PORT COMMAND...: starts a peer and waits until it
# answers; a peer that does not is fatal, there is nothing to compare with.
start_peer() {
	local name=$1 proto=$2 log=$tmp/$1.log pid
	port[$name,$proto]=$3
	shift 3
	"$@" >>"$log" 2>&1 &
	pid=$!
	live[$pid]=1
	say "started $name (pid $pid) on 127.0.0.1:${port[$name,$proto]}: $*"
	if ! probe "$name" "$proto" "${port[$name,$proto]}" "$pid" $((SECONDS + 15)); then
		tail -n 20 "$log" >&2 || true
		tail -n 1 "$tmp/probe.log" >&2 || true
		die "$name does not answer ${label[$proto]} on 127.0.0.1:${port[$name,$proto]} (log above)"
	fi
	pids[$name,$proto]=$(socket_pids "${port[$name,$proto]}")
	check_pids "$name" "$proto" "$pid"
	say "$name serves as user $(ps -o user= -p "${pids[$name,$proto]%% *}" 2>/dev/null || echo '?')"
}

start_chronyd() {
	local conf=$tmp/chrony.conf p
	local -a extra=()
	p=$("$udpload" -mode freeport)
	# A server only: no sources, no command port or socket (so it cannot
	# collide with the system's chronyd), no drift or dump files, and no
	# ratelimit directive, so like the agent here it answers every request.
	cat >"$conf" <<-EOF
		port $p
		bindaddress 127.0.0.1
		local stratum 10
		allow 127.0.0.1
		cmdport 0
		bindcmdaddress /
		pidfile $tmp/chronyd.pid
	EOF
	# Without root chronyd refuses to start unless told not to check.
	((EUID == 0)) || extra=(-U)
	# -d: stay in the foreground (no fork, so $! is the server) and log to
	# stderr; -x: never adjust the clock.
	start_peer chronyd ntp "$p" "$chronyd" -x -d "${extra[@]}" -f "$conf"
}

# ---------------------------------------------------------------------------
# Runs

# run_one NAME PROTO REP: one run, appended to $tmp/runs.jsonl for the report.
run_one() {
	local name=$1 proto=$2 rep=$3 out before after ticks=-1 k bound
	local -a holders
	read -ra holders <<<"${pids[$name,$proto]}"
	# The generator ends itself after the duration plus at most one request
	# timeout; the bound only catches a hang.
	bound=$((duration_secs + 30))
	before=$(cpu_ticks "${holders[@]}")
	if out=$(timeout --foreground -k 5 "$bound" "$udpload" -mode load -proto "$proto" \
		-addr "127.0.0.1:${port[$name,$proto]}" -clients "$clients" -duration "$duration" \
		-timeout "$req_timeout" 2>>"$tmp/udpload.log"); then
		after=$(cpu_ticks "${holders[@]}")
		if [[ -n $before && -n $after ]]; then
			ticks=$((after - before))
		else
			say "warning: $name (pid ${holders[*]}) is gone; no CPU figure for this run"
		fi
		k=$(jfield "$out" unsynchronised)
		((${k:-0} == 0)) || say "warning: $name flagged $k replies unsynchronised (leap indicator 3); real clients would discard them"
		say "${label[$proto]} $name run $rep/$repeat: $(awk -v t="$ticks" -v hz="$clk_tck" -v n="$(jfield "$out" answered)" \
			'BEGIN { if (t >= 0 && n > 0) printf "%.1f", t * 1e6 / hz / n; else printf "?" }') CPU µs/answered; $out"
	else
		out=null
		say "${label[$proto]} $name run $rep/$repeat: udpload failed or exceeded ${bound}s"
		tail -n 5 "$tmp/udpload.log" >&2 || true
	fi
	printf '{"server":"%s","proto":"%s","rep":%d,"cpu_ticks":%d,"result":%s}\n' \
		"$name" "$proto" "$rep" "$ticks" "$out" >>"$tmp/runs.jsonl"
}

# servers_for PROTO: the servers measured for PROTO, agent first.
servers_for() {
	if [[ -n $agent && -z ${not_measured[$1]-} ]]; then
		echo agent "${peer[$1]}"
	else
		echo "${peer[$1]}"
	fi
}

host_desc() {
	printf '%s; load generator on the same host' "$(host_desc_base)"
}

# report: the tables and the Markdown summary, from the recorded runs.
# Backticks in the descriptions are Markdown code spans, not expansions.
# shellcheck disable=SC2016
report() {
	local p
	local -a args=(-clk-tck "$clk_tck" -command "$command_line" -host "$(host_desc)"
		-clients "$clients" -duration "$duration" -timeout "$req_timeout" -repeat "$repeat"
		-protos "$(IFS=,; echo "${protos[*]}")")
	[[ -n $agent ]] || args+=(-agent=false)
	((want_ntp)) && args+=(-peer "ntp=chronyd $("$chronyd" -v 2>/dev/null | awk '{ print $4; exit }') (\`-x\`, \`local stratum 10\`, no sources, its own port)")
	((want_text)) && args+=(-peer "text=the seed tutorial's strftime server (\`scripts/bench/seed_time_server.py\`) under $(python_version "$python")")
	for p in "${!not_measured[@]}"; do
		args+=(-skip "$p=${not_measured[$p]}")
	done
	"$udpload" -mode report "${args[@]}" <"$tmp/runs.jsonl"
}

# ---------------------------------------------------------------------------

: >"$tmp/runs.jsonl"
[[ -n $agent ]] && start_agent
((want_ntp)) && start_chronyd
if ((want_text)); then
	p=$("$udpload" -mode freeport)
	start_peer python text "$p" "$python" "$root/scripts/bench/seed_time_server.py" 127.0.0.1 "$p"
fi

for p in "${protos[@]}"; do
	read -ra order <<<"$(servers_for "$p")"
	for ((rep = 1; rep <= repeat; rep++)); do
		for n in "${order[@]}"; do
			run_one "$n" "$p" "$rep"
		done
	done
done

stop_all

report

if ((${#not_measured[@]} > 0)); then
	for p in "${protos[@]}"; do
		[[ -n ${not_measured[$p]-} ]] && say "bench-time: incomplete: ${not_measured[$p]}"
	done
	exit 1
fi
