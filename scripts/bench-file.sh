#!/usr/bin/env bash
# Benchmarks receiving one large random file on loopback:
#   agent         the agent's framed file receiver fed by `edge-agent send`
#                 (sha256 + ack: it returns once the file is written,
#                 fsynced, verified and renamed into place)
#   agent-legacy  the same receiver fed by `edge-agent send --legacy` (the
#                 seed's bare framing: no hash, no ack)
#   python        seed 003's Python server (scripts/bench/seed_file_server.py)
#                 with the tutorial's recv(1024), the headline baseline
#   python-64k    the same server with recv(65536)
#   socat         socat -u TCP-LISTEN -> OPEN:file (raw bytes, no framing)
#   dd            dd bs=1M conv=fsync of the same file: the durable-write
#                 rate of the disk, for the agent, which fsyncs, to be held to
# Python and socat are fed by scripts/bench/filesend (sendfile(2)), not the
# tutorial's line-by-line client, so the receivers are what is measured.
# Each is timed from the first byte sent until the file has its full size
# under its final name, BENCH_REPEAT times, interleaved; the medians, the
# ratios to the targets and the agent's peak RSS are printed as a table and
# as Markdown for the README. Every destination's SHA-256 is checked.
#
# Usage: scripts/bench-file.sh   (results on stdout, progress on stderr)
#
# Environment:
#   BENCH_SIZE=1GiB     file size: bytes, or K/KiB, M/MiB, G/GiB (e.g. 256MiB)
#   BENCH_REPEAT=3      runs per receiver
#   BENCH_DIR=/var/tmp  where the working directory (source, destinations)
#                       is created; it must have room for twice BENCH_SIZE
#   BENCH_AGENT=/path   agent binary (default dist/edge-agent, else built);
#                       BENCH_AGENT=none measures the baselines only
#   BENCH_PYTHON=/path  interpreter for the Python server
#
# Exit status 1 when the agent was to be measured and could not be, or any
# run failed or delivered a file whose SHA-256 differs from the source.
set -euo pipefail

# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/bench/lib.sh" bench-file

command_line=$(command_line_of BENCH_SIZE BENCH_REPEAT BENCH_DIR BENCH_AGENT BENCH_PYTHON)

size_spec=${BENCH_SIZE:-1GiB}
if [[ $size_spec =~ ^([0-9]+)(B|K|KiB|M|MiB|G|GiB)?$ ]]; then
	size=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[2]} in
	K | KiB) size=$((size << 10)) ;;
	M | MiB) size=$((size << 20)) ;;
	G | GiB) size=$((size << 30)) ;;
	esac
fi
((${size:-0} >= 1 << 20 && size <= 64 << 30)) ||
	die "BENCH_SIZE must be 1MiB to 64GiB, like 1GiB, 256MiB or 1048576, not '$size_spec'"
repeat=${BENCH_REPEAT:-3}
[[ $repeat =~ ^[1-9][0-9]?$ ]] || die "BENCH_REPEAT must be 1 to 99, not '$repeat'"
parent=${BENCH_DIR:-/var/tmp}
[[ -d $parent && -w $parent ]] || die "BENCH_DIR=$parent is not a writable directory"

for tool in go sha256sum dd socat; do
	command -v "$tool" >/dev/null ||
		die "$tool not found; on Debian: apt-get install -y $([[ $tool == go ]] && echo golang || echo "$tool")"
done
python=${BENCH_PYTHON:-}
if [[ -z $python ]]; then
	# The distribution interpreter, when present, so runs on one host compare.
	if [[ -x /usr/bin/python3 ]]; then
		python=/usr/bin/python3
	else
		python=$(command -v python3) || die "python3 not found (set BENCH_PYTHON)"
	fi
fi

# The source, every destination and the agent's directory live in $tmp, so
# all share one filesystem and the exit trap removes them all.
TMPDIR=$parent make_tmp
need_kib=$((2 * size / 1024 + 256 * 1024))
avail_kib=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
((avail_kib >= need_kib)) ||
	die "$tmp has $((avail_kib / 1024)) MiB free, needs $((need_kib / 1024)) MiB (source + one destination); set BENCH_DIR or a smaller BENCH_SIZE"

say "building filesend into $tmp"
go build -o "$tmp/filesend" ./scripts/bench/filesend
fs=$tmp/filesend
pick_agent "Python, socat and dd" baselines

# A transfer slower than 10 MiB/s, plus a minute, is a hang.
bound=$((60 + size / (10 << 20)))
failures=0
agent_problem=""
runlog=$tmp/runs
: >"$runlog"

# Other work on the host makes every figure noisier; the load is reported
# with the results so a noisy run can be told from a slow receiver.
load_start=$(cut -d' ' -f1 /proc/loadavg)
src=$tmp/src.bin
say "writing $size random bytes to $src"
head -c "$size" /dev/urandom >"$src"
src_sum=$(sha256sum <"$src")
src_sum=${src_sum%% *}
sync

# ---------------------------------------------------------------------------
# Receivers

agent_dir=$tmp/agent
py_dir=$tmp/python
mkdir -p "$agent_dir" "$py_dir"

# await_listener NAME PID PORT: waits until PID listens on PORT; fails with
# the end of its log when it dies or does not within 15 s.
await_listener() {
	if ! wait_until "$2" $((SECONDS + 15)) "$fs" -mode listening -port "$3" -timeout 200ms 2>/dev/null; then
		tail -n 20 "$tmp/$1.log" >&2 || true
		if kill -0 "$2" 2>/dev/null; then
			say "$1 is not listening on 127.0.0.1:$3 after 15s (log above)"
		else
			say "$1 exited during startup (log above)"
		fi
		return 1
	fi
}

start_python() {
	local name=$1 bufsize=$2 port pid
	port=$("$fs" -mode freeport)
	mkdir -p "$py_dir/$name"
	"$python" "$root/scripts/bench/seed_file_server.py" 127.0.0.1 "$port" "$py_dir/$name" "$bufsize" >>"$tmp/$name.log" 2>&1 &
	pid=$!
	live[$pid]=1
	await_listener "$name" "$pid" "$port" || die "the $name server did not start"
	py_port[$name]=$port
}

agent_pid=""
start_agent() {
	agent_port=$("$fs" -mode freeport)
	EDGE_FILE_ADDR=127.0.0.1:$agent_port EDGE_FILE_DIR=$agent_dir \
		EDGE_FILE_MAX_SIZE=4GiB EDGE_FILE_MIN_FREE=0 \
		EDGE_ECHO_ADDR=off EDGE_NTP_ADDR=off EDGE_TIME_ADDR=off EDGE_MQTT_URL=off \
		EDGE_LOG_LEVEL=warn "$agent" run >>"$tmp/agent.log" 2>&1 &
	agent_pid=$!
	live[$agent_pid]=1
	await_listener agent "$agent_pid" "$agent_port"
}

# agent_answers MODE_ARGS...: one small upload with a short bound before the
# real runs, so a receiver that accepts but never completes a file is
# reported in seconds rather than after a full-size timeout per run.
agent_answers() {
	local probe=$tmp/probe.bin
	head -c 1048576 /dev/urandom >"$probe"
	rm -f "$agent_dir/probe.bin"
	timeout --foreground -k 5 30 "$fs" -mode exec -dest "$agent_dir/probe.bin" -size 1048576 -timeout 20s \
		-- "$agent" send "$@" "127.0.0.1:$agent_port" "$probe" >/dev/null 2>>"$tmp/agent-send.log" &&
		cmp -s "$probe" "$agent_dir/probe.bin"
}

# ---------------------------------------------------------------------------
# One run

# transfer NAME DEST: sends the source to NAME, prints filesend's JSON line.
transfer() {
	local name=$1 dest=$2 out sp port i
	local -a exec_args=(timeout --foreground -k 5 $((bound + 10)) "$fs" -dest "$dest" -timeout "${bound}s")
	case $name in
	agent | agent-legacy)
		local -a legacy=()
		[[ $name == agent-legacy ]] && legacy=(--legacy)
		"${exec_args[@]}" -mode exec -size "$size" -rsspid "$agent_pid" \
			-- "$agent" send "${legacy[@]}" "127.0.0.1:$agent_port" "$src" 2>>"$tmp/agent-send.log"
		;;
	python | python-64k)
		"${exec_args[@]}" -mode send -addr "127.0.0.1:${py_port[$name]}" -file "$src" 2>>"$tmp/filesend.log"
		;;
	socat)
		port=$("$fs" -mode freeport)
		socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "OPEN:$dest,creat,trunc" >>"$tmp/socat.log" 2>&1 &
		sp=$!
		live[$sp]=1
		await_listener socat "$sp" "$port" || return 1
		out=$("${exec_args[@]}" -mode send -raw -addr "127.0.0.1:$port" -file "$src" 2>>"$tmp/filesend.log") || {
			stop_pid "$sp"
			return 1
		}
		# socat exits at EOF; a socat that does not has not finished its job.
		for ((i = 0; i < 200; i++)); do
			kill -0 "$sp" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$sp" 2>/dev/null; then
			say "socat still running 10s after the file was complete"
			stop_pid "$sp"
			return 1
		fi
		wait "$sp" || return 1
		unset "live[$sp]"
		printf '%s\n' "$out"
		;;
	dd)
		"${exec_args[@]}" -mode exec -size "$size" \
			-- dd if="$src" of="$dest" bs=1M conv=fsync status=none 2>>"$tmp/dd.log"
		;;
	esac
}

dest_of() {
	case $1 in
	agent | agent-legacy) echo "$agent_dir/src.bin" ;;
	python | python-64k) echo "$py_dir/$1/src.bin" ;;
	*) echo "$tmp/$1.bin" ;;
	esac
}

run_one() {
	local name=$1 rep=$2 dest out status sum
	dest=$(dest_of "$name")
	rm -f "$dest"
	# Every run starts with the source in the page cache and no dirty pages
	# left by the run before, whose writeback would slow this one down.
	cat "$src" >/dev/null
	sync
	if out=$(transfer "$name" "$dest"); then
		sum=$(sha256sum <"$dest")
		if [[ ${sum%% *} == "$src_sum" ]]; then
			status=ok
		else
			status=mismatch
			say "!!! $name run $rep: SHA-256 MISMATCH: $dest is ${sum%% *}, the source $src_sum"
		fi
	else
		status=failed
		say "!!! $name run $rep FAILED (logs: agent-send.log, filesend.log, $name.log in $tmp):"
		tail -n 5 "$tmp/agent-send.log" "$tmp/filesend.log" "$tmp/$name.log" 2>/dev/null >&2 || true
	fi
	[[ $status == ok ]] || failures=$((failures + 1))
	printf 'run %s %s %s %s %s %s %s\n' "$name" "$rep" "$status" \
		"$(jfield "$out" mbps)" "$(jfield "$out" seconds)" \
		"$(jfield "$out" rss_max_kib)" "$(jfield "$out" hwm_kib)" |
		awk '{ for (i = 5; i <= 8; i++) if ($i == "") $i = 0; print }' >>"$runlog"
	say "$name run $rep: $status ${out:-}"
	rm -f "$dest"
	[[ $status != failed ]]
}

# ---------------------------------------------------------------------------

declare -A py_port=()
start_python python 1024
start_python python-64k 65536

receivers=()
if [[ -n $agent ]]; then
	if ! "$agent" help 2>&1 | grep -qE '^[[:space:]]*edge-agent send'; then
		agent_problem="$agent has no 'send' command yet ('$agent help' does not list it)"
	elif ! start_agent; then
		agent_problem="the agent's file receiver did not start listening on 127.0.0.1:$agent_port (log: see above)"
	elif ! agent_answers; then
		agent_problem="the agent's file receiver on 127.0.0.1:$agent_port did not complete a 1 MiB upload from 'edge-agent send' within 20s"
	else
		receivers+=(agent)
		if agent_answers --legacy; then
			receivers+=(agent-legacy)
		else
			agent_problem="'edge-agent send --legacy' did not deliver a 1 MiB file within 20s"
		fi
	fi
	if [[ -n $agent_problem ]]; then
		say "!!! AGENT NOT MEASURED: $agent_problem"
		tail -n 10 "$tmp/agent.log" "$tmp/agent-send.log" 2>/dev/null >&2 || true
	fi
fi
receivers+=(python python-64k socat dd)

# Interleaved, the order rotated each round, so slow drifts of the host
# (thermal, background writeback) spread over all receivers.
declare -A gave_up=()
n=${#receivers[@]}
for ((rep = 1; rep <= repeat; rep++)); do
	for ((i = 0; i < n; i++)); do
		name=${receivers[(i + rep - 1) % n]}
		[[ -z ${gave_up[$name]:-} ]] || continue
		# A receiver that failed once would likely cost a full timeout again.
		run_one "$name" "$rep" || gave_up[$name]=1
	done
done

fstype=$(findmnt -no FSTYPE -T "$tmp" 2>/dev/null || stat -f -c %T "$tmp")
host="$(host_desc_base), $(python_version "$python"), $(socat -V | awk '/socat version/ { print "socat " $3; exit }'), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM; files on $fstype ($(df -P "$tmp" | awk 'NR == 2 { print $1 }'))"
notes="$(numfmt --to=iec-i --suffix=B "$size") of random bytes; runs per receiver: ${repeat}, interleaved; medians. MB/s = 10^6 bytes/s."
notes+="|The source is kept hot in the page cache (read before every run; caches are not dropped), so every receiver reads it alike; destinations are on the same filesystem, removed and the filesystem synced between runs."
notes+="|Timed from the first byte sent (for \`edge-agent send\`, from its start: it hashes the file as it sends it, and the receiver hashes what arrives, both on the same two CPUs) until the file has its full size under its final name; Python and socat are done when the data is in the page cache, the agent and dd only once it is fsynced."
notes+="|Load average (1 min) at the start and the end: $load_start and $(cut -d' ' -f1 /proc/loadavg), on $(nproc) CPUs."
notes+="|Python and socat are fed by \`scripts/bench/filesend\` (framing + sendfile), not the tutorial's line-by-line client. Every destination's SHA-256 is checked."
if [[ -n $agent_problem ]]; then
	notes+="|**The agent was not measured**: $agent_problem."
elif [[ -z $agent ]]; then
	notes+="|The agent was not measured (BENCH_AGENT=none)."
fi
"$fs" -mode report -command "$command_line" -host "$host" -notes "$notes" <"$runlog"

status=0
if [[ -n $agent_problem ]]; then
	printf '\nAGENT NOT MEASURED: %s\n' "$agent_problem"
	status=1
fi
if ((failures > 0)); then
	printf '\n%d run(s) failed or delivered a wrong file (see the !!! lines on stderr)\n' "$failures"
	status=1
fi
exit "$status"
