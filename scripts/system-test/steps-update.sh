# shellcheck shell=bash
# Sourced by scripts/system-test.sh: signed updates under systemd. The
# guest's agent runs with EDGE_UPDATE=on and the operator key of the
# actions step (made here if that step did not run) and talks to a
# mosquitto on the namespace's loopback (127.0.0.1:1884) through a socat
# relay on 127.0.0.1:1885 (10.0.2.2:1885 from the guest): with the
# relay's listener gone, the connection the agent has stays and a new
# one is refused, which keeps a new version from the broker. A
# subscriber on the broker ("the tap") writes every message under edge/
# with its arrival time to tap.log, and python's http.server serves the offered
# binaries and their signatures on 127.0.0.1:8998 (10.0.2.2:8998 from the
# guest). Updates are signed by hand as README "Signing by hand" shows,
# the binary with ssh-keygen -Y sign -n edge-agent-update. The update
# steps come after the others: from here on the guest's agent has no
# embedded broker. update-broker.sh has the broker's side,
# steps-update-power.sh the power cuts during updates and the canary.

upd_port=1884
relay_port=1885
upd_http=8998
upd_window=20 # EDGE_UPDATE_HEALTH_WINDOW, seconds
mosq_pid=     # the host's mosquitto
tap_pid=      # its subscriber
http_pid=     # the binaries' server
relay_pid=    # the relay's listener; each is a process group of its own
relay_groups= # with the relayed connections: every group started
upd_ready=0

# The builds: the agent as VERSION-next, and two programs that pass every
# check of an update and then exit at once or hang (Makefile).
next_bin=$st/edge-agent-next-linux-$ARCH
exits_bin=$st/update-exits-linux-$ARCH
hangs_bin=$st/update-hangs-linux-$ARCH

# offer NAME FILE: FILE served as NAME, with NAME.sig by the operator.
offer() {
	cp "$2" "$run/offers/$1"
	rm -f "$run/offers/$1.sig"
	ssh-keygen -q -Y sign -n edge-agent-update -f "$run/operator" "$run/offers/$1" >/dev/null 2>&1 ||
		fail "ssh-keygen -Y sign -n edge-agent-update $1"
}

# update_payload VERSION NAME: the signed update command for the guest,
# naming the offer NAME, as the JSON payload of cmd/update.
update_payload() {
	local f=$run/offers/$2 size sha
	size=$(stat -c %s "$f")
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	printf '{"device":"edge-st","action":"update","args":["%s","http://10.0.2.2:%s/%s","%s","%s"],"counter":%s}' \
		"$1" "$upd_http" "$2" "$size" "$sha" "$(date +%s%N)" >"$run/update.json"
	rm -f "$run/update.json.sig"
	ssh-keygen -q -Y sign -n edge-agent -f "$run/operator" "$run/update.json" >/dev/null 2>&1 || fail "ssh-keygen -Y sign"
	python3 -c 'import json, sys; print(json.dumps({"command": open(sys.argv[1]).read(), "signature": open(sys.argv[2]).read()}))' \
		"$run/update.json" "$run/update.json.sig"
}

# ask_update VERSION NAME: send the update and print the device's reply.
ask_update() {
	local payload
	payload=$(update_payload "$1" "$2")
	mosquitto_rr -h 127.0.0.1 -p "$upd_port" -q 1 -t edge/edge-st/cmd/update -e edge/edge-st/cmd/update/reply \
		-W 120 -m "$payload" 2>&1
}

# running: "PID EXE VERSION" of the service's main process in the guest.
running() {
	guest_ok "main process" 'pid=$(systemctl show -p MainPID --value edge-agent)
		if [ "$pid" = 0 ]; then echo "0 - -"; exit 0; fi
		echo "$pid $(readlink /proc/$pid/exe) $(/proc/$pid/exe version | cut -d" " -f2)"'
}

# clock_offset: the host's clock less the guest's, in seconds.
clock_offset() {
	local t1 g t2
	t1=$(now)
	g=$(guest_ok date date +%s.%N)
	t2=$(now)
	awk -v a="$t1" -v b="$t2" -v g="$g" 'BEGIN {printf "%.3f", (a + b) / 2 - g}'
}

# upd_wait_agent: until the service is active and its services listen
# (the embedded broker is off: EDGE_MQTT_URL names the host's).
upd_wait_agent() {
	local deadline=$((SECONDS + 120))
	until guest 'systemctl is-active -q edge-agent && ss -Hlnu "sport = :123" | grep -q . &&
		ss -Hlnt "sport = :8080" | grep -q . && ss -Hlnt "sport = :8081" | grep -q .' 2>/dev/null; do
		((SECONDS < deadline)) || fail "edge-agent not active and listening within 120 s: $(guest systemctl status --no-pager edge-agent 2>&1 | tail -n 8)"
		sleep 1
	done
}

# upd_setup: once per run: the broker, the tap, the server, the key, and
# EDGE_UPDATE=on in the guest.
upd_setup() {
	((upd_ready == 0)) || return 0
	for f in "$next_bin" "$exits_bin" "$hangs_bin"; do
		[[ -x $f ]] || fail "$f missing: run make system-test"
	done
	new_next=$(bin_version "$next_bin")
	exits_version=$(bin_version "$exits_bin")
	hangs_version=$(bin_version "$hangs_bin")
	write_tapq
	start_broker
	start_relay
	mkdir -p "$run/offers"
	(cd "$run/offers" && exec python3 -m http.server --bind 127.0.0.1 "$upd_http") >>"$run/http.log" 2>&1 &
	http_pid=$!
	if [[ ! -f $run/operator ]]; then
		ssh-keygen -q -t ed25519 -N '' -C operator@system-test -f "$run/operator"
	fi
	offer agent "$new_bin"
	offer agent-next "$next_bin"
	offer exits "$exits_bin"
	offer hangs "$hangs_bin"
	guest_ok "dirs" install -d -m 0755 /etc/edge-agent >/dev/null
	scp -q -F "$run/ssh_config" "$run/operator.pub" guest:/etc/edge-agent/authorized_keys || fail "scp of the key"
	guest_ok "settings" "chmod 0644 /etc/edge-agent/authorized_keys &&
		{ grep -q '^EDGE_UPDATE=on' /etc/default/edge-agent ||
			printf '\n# update steps\nEDGE_UPDATE=on\nEDGE_UPDATE_HEALTH_WINDOW=${upd_window}s\nEDGE_MQTT_URL=tcp://10.0.2.2:$relay_port\nEDGE_MQTT_INTERVAL=5s\n' >>/etc/default/edge-agent; } &&
		systemctl restart edge-agent" >/dev/null
	upd_wait_agent
	local deadline=$((SECONDS + 20)) curl_ok
	until curl_ok=$(guest "exec 3<>/dev/tcp/10.0.2.2/$upd_http && printf 'HEAD /agent.sig HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3" 2>&1) &&
		[[ $curl_ok == *" 200 "* ]]; do
		((SECONDS < deadline)) || fail "the guest cannot fetch from http://10.0.2.2:$upd_http: $curl_ok $(tail -n 3 "$run/http.log")"
		sleep 1
	done
	tap_wait 0 edge/edge-st/state 'd["update"]["enabled"]' 60 >/dev/null ||
		fail "no state with update.enabled from the guest on 127.0.0.1:$upd_port: $(guest journalctl -u edge-agent -n 15 --no-pager -o cat 2>&1)"
	upd_ready=1
}

# wait_rollback SINCE OFFSET DEADLINE: until the launcher in the guest
# logged a rollback after the guest's time SINCE, or DEADLINE (of
# SECONDS); prints the host's time of that line (the guest's journal time
# plus OFFSET) and the line. 2, and what systemd says, when the service
# ended without a restart to come (nothing would roll it back).
wait_rollback() {
	local line stopped=0
	while :; do
		line=$(guest "journalctl -u edge-agent --since @$1 -q -o short-unix --no-pager | grep -m1 'edge-agent launcher: update .*rolled_back'" 2>/dev/null) && break
		# failed or inactive, and not auto-restart: twice, RestartSec= apart.
		if guest 'case "$(systemctl show -p ActiveState,SubState --value edge-agent | paste -sd" ")" in failed*|inactive*) exit 0;; esac; exit 1' 2>/dev/null; then
			stopped=$((stopped + 1))
		else
			stopped=0
		fi
		if ((stopped > 1)); then
			guest "systemctl show -p ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,NRestarts edge-agent | paste -sd' '; journalctl -u edge-agent --since @$1 -q -o cat --no-pager | grep -E '^edge-agent[.]service: |launcher' | tail -n 6" 2>&1
			return 2
		fi
		((SECONDS < $3)) || return 1
		if ((stopped == 0)); then sleep 1; else sleep 6; fi
	done
	awk -v o="$2" '{printf "%.3f ", $1 + o; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); print}' <<<"$line"
}

# bad_update NAME VERSION [nobroker]: an update that must be rolled back;
# sets bad_s (reply to the launcher's rollback), bad_event_s (to
# update_failed), bad_reason and bad_how (what systemd saw).
bad_update() {
	local name=$1 v=$2 mark since offset reply t_reply back t_back fev
	mark=$(tap_mark)
	since=$(guest_ok date date +%s)
	offset=$(clock_offset)
	# The agent's connection stays; the new version's are refused.
	[[ ${3:-} == nobroker ]] && refuse_new
	reply=$(ask_update "$v" "$name") || fail "no reply to the update to $v: $reply"
	t_reply=$(now)
	[[ $(jget "$reply" 'd["ok"]') == True && $(jget "$reply" 'd["result"]["output"]') == *"installed $v in slot a"* ]] ||
		fail "the update to $v was answered $reply"
	local limit=$((SECONDS + upd_window + 30)) rc=0
	tap_wait "$mark" edge/edge-st/events/update "d['data']['phase'] == 'restarting' and d['data']['version'] == '$v'" 30 >/dev/null ||
		fail "no restarting event for $v"
	if [[ ${3:-} == nobroker ]]; then
		# The relay takes new connections again once the version on trial
		# gave up (not before: it would commit), while systemd waits
		# RestartSec= to start the launcher again.
		until guest "journalctl -u edge-agent --since @$since -q -o cat --no-pager | grep -q -E 'is not healthy|rolled_back'" 2>/dev/null; do
			((SECONDS < limit)) || fail "$v on trial without a broker: no failure logged within $((upd_window + 30)) s: $(guest journalctl -u edge-agent --since @"$since" -n 20 --no-pager -o cat 2>&1)"
			sleep 1
		done
		start_relay
	fi
	back=$(wait_rollback "$since" "$offset" "$limit") || rc=$?
	case $rc in
	1) fail "$v not rolled back within $((upd_window + 30)) s of its reply: $(guest journalctl -u edge-agent --since @"$since" -n 25 --no-pager -o cat 2>&1 | grep -v '^[[:space:]]')" ;;
	2) fail "$v: the service stopped and systemd will not start it again, so the launcher never rolls it back: $back" ;;
	esac
	t_back=${back%% *}
	bad_s=$(secs "$t_reply" "$t_back")
	awk -v s="$bad_s" -v l=$((upd_window + 30)) 'BEGIN {exit !(s <= l)}' || fail "$v rolled back $bad_s s after its reply, over $((upd_window + 30)) s"
	[[ $back == *"$new_next -> $v: rolled_back"* ]] || fail "the launcher logged: ${back#* }"
	fev=$(tap_wait "$mark" edge/edge-st/events/update_failed "d['data']['to'] == '$v'" 90) ||
		fail "no update_failed for $v within 90 s"
	bad_event_s=$(secs "$t_reply" "${fev%% *}")
	[[ $(jget "${fev#* }" 'd["data"]["from"]') == "$new_next" ]] || fail "update_failed: ${fev#* }"
	bad_reason=$(jget "${fev#* }" 'd["data"]["reason"]')
	local st
	st=$(tap_wait "$mark" edge/edge-st/state "d['version'] == '$new_next' and d['update']['last']['to'] == '$v'" 30) ||
		fail "no state back at $new_next naming the rollback of $v"
	[[ $(jget "${st#* }" 'd["update"]["last"]["result"]') == rolled_back && $(jget "${st#* }" 'd["update"]["slot"]') == b ]] ||
		fail "state after the rollback of $v: $(jget "${st#* }" 'd["update"]')"
	local r
	r=$(running)
	[[ $r == *" /var/lib/edge-agent/slots/b $new_next" ]] || fail "after the rollback of $v the service runs: $r"
	bad_how=$(guest "journalctl -u edge-agent --since @$since -q -o cat --no-pager" |
		grep -m1 -E 'Watchdog timeout|start operation timed out|Main process exited|is not healthy' || true)
	say "$v: rolled back $bad_s s after the reply (update_failed at $bad_event_s s): ${bad_how:-?}; reason '$bad_reason'"
}

step_update() {
	step_begin update "signed updates under systemd: to the -next build, a reboot, three versions that fail and are rolled back"
	upd_setup
	local r0 r1 from_version restarts0 restarts1 mark reply t_reply st committed
	r0=$(running)
	restarts0=$(guest_ok NRestarts systemctl show -p NRestarts --value edge-agent)
	from_version=${r0##* }
	[[ $from_version == "$new_version" || $from_version == "$previous_version" ]] || fail "before the update the service runs $r0"
	[[ $(guest_ok current cat /var/lib/edge-agent/slots/current) == a ]] || fail "no slots made at the start with EDGE_UPDATE=on"

	# A good update: installed into slot b, restarted in place, committed.
	mark=$(tap_mark)
	reply=$(ask_update "$new_next" agent-next) || fail "no reply to the update: $reply"
	t_reply=$(now)
	[[ $(jget "$reply" 'd["ok"]') == True && $(jget "$reply" 'd["result"]["output"]') == *"installed $new_next in slot b"* ]] ||
		fail "the update to $new_next was answered $reply"
	local phase
	for phase in downloading verifying restarting; do
		tap_find "$mark" edge/edge-st/events/update "d['data']['phase'] == '$phase' and d['data']['version'] == '$new_next'" >/dev/null ||
			fail "no $phase event before the reply: $(tap_count "$mark" 'edge/edge-st/events/*') events"
	done
	committed=$(tap_wait "$mark" edge/edge-st/events/update_committed "d['data']['to'] == '$new_next'" 90) ||
		fail "no update_committed within 90 s: $(guest journalctl -u edge-agent -n 20 --no-pager -o cat 2>&1)"
	[[ $(jget "${committed#* }" 'd["data"]["from"]') == "$from_version" ]] || fail "update_committed: ${committed#* }"
	local commit_s
	commit_s=$(secs "$t_reply" "${committed%% *}")
	st=$(tap_wait "$mark" edge/edge-st/state "d['version'] == '$new_next' and not d['update'].get('trial')" 30) ||
		fail "no state at $new_next"
	[[ $(jget "${st#* }" 'd["update"]["slot"]') == b && $(jget "${st#* }" 'd["update"]["last"]["result"]') == committed &&
		$(jget "${st#* }" 'd["update"]["previous_version"]') == "$from_version" ]] || fail "state after the update: $(jget "${st#* }" 'd["update"]')"
	r1=$(running)
	restarts1=$(guest_ok NRestarts systemctl show -p NRestarts --value edge-agent)
	[[ $r1 == *" /var/lib/edge-agent/slots/b $new_next" ]] || fail "after the update the service runs $r1"
	[[ ${r1%% *} == "${r0%% *}" ]] || fail "the main PID changed ${r0%% *} -> ${r1%% *}: the update was not a restart in place"
	[[ $restarts1 == "$restarts0" ]] || fail "NRestarts $restarts0 -> $restarts1 across the update"
	local comm
	comm=$(guest_ok comm "cat /proc/${r1%% *}/comm")
	[[ $comm == edge-agent ]] || fail "the process running slot b is named $comm, not edge-agent (ps, journal, systemd)"
	[[ $(guest_ok active systemctl is-active edge-agent) == active ]] || fail "the service is not active after the update"

	# ... and kept across a reboot.
	reboot_guest
	local reboot_back=$boot_s
	upd_wait_agent
	mark=$(tap_mark)
	local r2
	r2=$(running)
	[[ $r2 == *" /var/lib/edge-agent/slots/b $new_next" ]] || fail "after the reboot the service runs $r2"
	st=$(tap_wait "$mark" edge/edge-st/state "d['version'] == '$new_next'" 30) || fail "no state at $new_next after the reboot"
	[[ $(jget "${st#* }" 'd["update"]["slot"]') == b && $(guest_ok NRestarts systemctl show -p NRestarts --value edge-agent) == 0 ]] ||
		fail "after the reboot: $(jget "${st#* }" 'd["update"]')"

	# Three versions that pass every check and fail once started.
	local times=() how=()
	bad_update exits "$exits_version"
	times+=("$bad_s") how+=("exits at once: ${bad_how##*: } ($bad_reason)")
	# The current build, which runs but cannot reach the broker.
	bad_update agent "$new_version" nobroker
	times+=("$bad_s") how+=("no broker: $bad_reason")
	bad_update hangs "$hangs_version"
	times+=("$bad_s") how+=("hangs: ${bad_how##*: } ($bad_reason)")
	local sorted median max
	sorted=$(printf '%s\n' "${times[@]}" | sort -g)
	median=$(sed -n 2p <<<"$sorted")
	max=$(tail -n 1 <<<"$sorted")
	pass "$from_version -> $new_next: reply, committed $commit_s s after it, same main PID ${r1%% *} named $comm, NRestarts $restarts1, slot b; kept across a reboot (ssh in $reboot_back s); rolled back within the window ${upd_window} s + 30 s, median $median s, max $max s (exits ${times[0]}, no broker ${times[1]}, hangs ${times[2]}); ${how[0]}; ${how[1]}; ${how[2]}"
}
