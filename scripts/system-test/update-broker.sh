# shellcheck shell=bash
# Sourced by scripts/system-test.sh for the update steps: the host's side
# of the guest's MQTT, and how the steps read it. mosquitto on the
# namespace's loopback (127.0.0.1:$upd_port), the socat relay the guest
# reaches it through ($relay_port), the subscriber that logs every message
# under edge/ with its arrival time (tap.log) and its reader (tapq.py);
# update_cleanup stops every process the update steps started. Globals
# from steps-update.sh: the ports and pid variables.
now() { date +%s.%N; }
# secs FROM TO: TO - FROM in seconds, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
bin_version() { "$1" version | awk '{print $2}'; }

# jget JSON EXPR: a Python expression over the parsed JSON d; empty when
# it fails (a missing key).
jget() {
	python3 -c 'import json, sys
try:
    d = json.loads(sys.argv[1]); v = eval(sys.argv[2])
except Exception:
    v = ""
print("" if v is None else v)' "$1" "$2"
}

# The tap's reader: the first line from line FROM on whose topic matches
# TOPIC (fnmatch) and whose payload d (JSON if it parses) makes EXPR true,
# as "TIME PAYLOAD"; with "count" first, how many lines match.
write_tapq() {
	cat >"$run/tapq.py" <<-'EOF'
		import fnmatch, json, sys
		count = sys.argv[1] == "count"
		if count:
		    del sys.argv[1]
		path, start, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		expr = sys.argv[4] if len(sys.argv) > 4 else "True"
		n = 0
		with open(path, errors="replace") as f:
		    for i, line in enumerate(f):
		        parts = line.rstrip("\n").split(" ", 2)
		        if i < start or len(parts) < 3 or not fnmatch.fnmatchcase(parts[1], topic):
		            continue
		        try:
		            d = json.loads(parts[2])
		        except ValueError:
		            d = parts[2]
		        try:
		            ok = eval(expr, {}, {"d": d})
		        except Exception:
		            ok = False
		        if ok and count:
		            n += 1
		        elif ok:
		            print(parts[0] + " " + parts[2])
		            sys.exit(0)
		if count:
		    print(n)
		    sys.exit(0)
		sys.exit(1)
	EOF
}

# tap_mark: where the tap's log ends now, for tap_wait and tap_find.
tap_mark() { wc -l <"$run/tap.log"; }
tap_find() { python3 "$run/tapq.py" "$run/tap.log" "$@"; }
tap_count() { python3 "$run/tapq.py" count "$run/tap.log" "$@"; }

# tap_wait MARK TOPIC EXPR SECONDS: tap_find until it finds, or 1.
tap_wait() {
	local deadline=$((SECONDS + $4))
	until tap_find "$1" "$2" "$3"; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

start_broker() {
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$upd_port" >"$run/mosquitto.conf"
	mosquitto -c "$run/mosquitto.conf" >>"$run/mosquitto.log" 2>&1 &
	mosq_pid=$!
	local deadline=$((SECONDS + 10))
	until mosquitto_pub -h 127.0.0.1 -p "$upd_port" -t edge-st-probe -n 2>/dev/null; do
		((SECONDS < deadline)) || fail "mosquitto on 127.0.0.1:$upd_port: $(tail -n 3 "$run/mosquitto.log")"
		sleep 0.2
	done
	start_tap
}

stop_broker() {
	stop_pid tap_pid
	stop_pid mosq_pid
}

# start_tap: the subscriber, and a message of its own seen through it.
start_tap() {
	stop_pid tap_pid
	touch "$run/tap.log"
	mosquitto_sub -h 127.0.0.1 -p "$upd_port" -q 1 -F '%U %t %p' -t 'edge/#' >>"$run/tap.log" 2>>"$run/tap.err" &
	tap_pid=$!
	local token=tap-$RANDOM$RANDOM mark deadline=$((SECONDS + 10))
	mark=$(tap_mark)
	until tap_find "$mark" edge/tap-probe "d == '$token'" >/dev/null; do
		mosquitto_pub -h 127.0.0.1 -p "$upd_port" -t edge/tap-probe -m "$token" 2>/dev/null || true
		((SECONDS < deadline)) || fail "the tap sees nothing on 127.0.0.1:$upd_port: $(cat "$run/tap.err")"
		sleep 0.3
	done
}

# stop_pid VAR: TERM to the process whose pid VAR holds, then KILL.
stop_pid() {
	local p=${!1}
	[[ -n $p ]] || return 0
	kill -TERM "$p" 2>/dev/null || true
	local deadline=$((SECONDS + 5))
	while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	printf -v "$1" '%s' ''
}

# start_relay: socat's listener on 127.0.0.1:$relay_port, a session of
# its own (setsid execs it: a background job here leads no group), each
# connection it relays in a child of its group.
start_relay() {
	setsid socat "TCP-LISTEN:$relay_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$upd_port" >>"$run/relay.log" 2>&1 &
	relay_pid=$!
	relay_groups+=" $relay_pid"
	local deadline=$((SECONDS + 10))
	until (exec 3<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null; do
		((SECONDS < deadline)) || fail "socat on 127.0.0.1:$relay_port: $(tail -n 3 "$run/relay.log")"
		sleep 0.2
	done
}

# refuse_new: the listener killed, its children (the connections it
# relays, the agent's among them) left alone.
refuse_new() {
	kill -KILL "$relay_pid" 2>/dev/null || true
	wait "$relay_pid" 2>/dev/null || true
	relay_pid=
}

# update_cleanup: every process the update steps started (the trap's).
update_cleanup() {
	declare -F twin_stop >/dev/null && twin_stop
	stop_pid http_pid
	local g
	for g in $relay_groups; do
		kill -KILL -- "-$g" 2>/dev/null || true
		wait "$g" 2>/dev/null || true
	done
	relay_groups=
	stop_broker
}
