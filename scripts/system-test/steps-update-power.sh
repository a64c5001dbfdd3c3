# shellcheck shell=bash
# Sourced by scripts/system-test.sh after steps-update.sh: power cuts
# during updates, and a canary update with edge-agent fleet update across
# the guest and a second agent on the host.

# slots_check: the guest's slot layout parses; prints "CURRENT TRIAL",
# TRIAL the slot on trial or "-".
slots_check() {
	local out
	out=$(guest_ok slots 'cat /var/lib/edge-agent/slots/current; echo ---; cat /var/lib/edge-agent/slots/state')
	python3 -c 'import json, sys
cur, _, st = sys.argv[1].partition("\n---\n")
if cur.strip() not in ("a", "b"):
    sys.exit("slots/current holds %r" % cur)
try:
    s = json.loads(st)
except ValueError as e:
    sys.exit("slots/state does not parse: %s: %r" % (e, st[:300]))
for k in ("a", "b"):
    v = s.get("slots", {}).get(k, {}).get("version")
    if k == cur.strip() and not v:
        sys.exit("slots/state names no version for the current slot %s: %r" % (k, st[:300]))
t = s.get("trial")
print(cur.strip(), t["slot"] if t else "-")' "$out" || fail "after cut $cut: $out"
}

# phase_at MARK: how far the update sent after MARK had got, by what the
# tap saw: sent, downloading, verifying, restarting, trial (the new
# version connected) or committed.
phase_at() {
	local p=sent ph
	for ph in downloading verifying restarting; do
		tap_find "$1" edge/edge-st/events/update "d['data']['phase'] == '$ph'" >/dev/null && p=$ph
	done
	tap_find "$1" edge/edge-st/state "d['version'] == '$2'" >/dev/null && p=trial
	tap_find "$1" edge/edge-st/events/update_committed >/dev/null && p=committed
	echo "$p"
}

# pick_target: the good version the guest does not run, in target and
# name (its offer); the running one in cur.
pick_target() {
	local r
	r=$(running)
	cur=${r##* }
	if [[ $cur == "$new_next" ]]; then target=$new_version name=agent; else target=$new_next name=agent-next; fi
}

# publish_update: the update to target, without waiting for the reply.
publish_update() {
	mosquitto_pub -h 127.0.0.1 -p "$upd_port" -q 1 -t edge/edge-st/cmd/update -m "$(update_payload "$target" "$name")" ||
		fail "publishing the update to $target"
}

step_updpower() {
	step_begin updpower "$UPDATE_CUTS power cuts (SIGKILL of qemu) during updates"
	upd_setup
	upd_wait_agent
	local cur target name mark ms r slots ph t0 d_ms span
	# One update without a cut: how long a whole one takes here, from
	# the command to update_committed. The cuts fall in twice that (at
	# least 3 s, at most 12 s), half of them before the commit.
	pick_target
	mark=$(tap_mark)
	t0=$(now)
	publish_update
	r=$(tap_wait "$mark" edge/edge-st/events/update_committed "d['data']['to'] == '$target'" 90) ||
		fail "the update to $target without a cut did not commit within 90 s"
	d_ms=$(awk -v a="$t0" -v b="${r%% *}" 'BEGIN {printf "%d", (b - a) * 1000}')
	span=$((d_ms * 2))
	((span >= 3000)) || span=3000
	((span <= 12000)) || span=12000
	upd_wait_agent
	local old_n=0 new_n=0 trials=0 boot_total=0 outcome
	declare -A in_phase=()
	for ((cut = 1; cut <= UPDATE_CUTS; cut++)); do
		pick_target
		mark=$(tap_mark)
		publish_update
		ms=$(((RANDOM * 32768 + RANDOM) % (span + 1)))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		cut_power
		ph=$(phase_at "$mark" "$target")
		boot_guest
		boot_total=$((boot_total + boot_s))
		mark=$(tap_mark)
		upd_wait_agent
		slots=$(slots_check)
		if [[ ${slots#* } != - ]]; then
			# A trial after the boot: the version the cut caught between
			# its switch and its start, which must now commit or be
			# rolled back within the window.
			trials=$((trials + 1))
			local deadline=$((SECONDS + upd_window + 30))
			until slots=$(slots_check) && [[ ${slots#* } == - ]]; do
				((SECONDS < deadline)) || fail "after cut $cut ($ms ms, $ph): a trial still pending $((upd_window + 30)) s after the boot: $(guest cat /var/lib/edge-agent/slots/state 2>&1)"
				sleep 2
			done
			upd_wait_agent
		fi
		r=$(running)
		[[ ${r##* } == "$new_version" || ${r##* } == "$new_next" ]] || fail "after cut $cut ($ms ms, $ph) the service runs $r"
		[[ $r == *" /var/lib/edge-agent/slots/${slots%% *} "* ]] || fail "after cut $cut the service runs $r, slots/current is ${slots%% *}"
		tap_wait "$mark" edge/edge-st/state "d['version'] == '${r##* }' and not d['update'].get('trial')" 60 >/dev/null ||
			fail "after cut $cut ($ms ms, $ph): no state at ${r##* } on the broker within 60 s (the service runs $r)"
		if [[ ${r##* } == "$target" ]]; then
			new_n=$((new_n + 1)) outcome=new
		else
			old_n=$((old_n + 1)) outcome=old
		fi
		in_phase[$ph]+=" $outcome"
		say "update cut $cut: $cur -> $target, cut at $ms ms ($ph); after the boot: ${r##* } in slot ${slots%% *}"
	done
	local phases="" p
	for p in sent downloading verifying restarting trial committed; do
		[[ -n ${in_phase[$p]:-} ]] || continue
		phases+="${phases:+, }$p $(wc -w <<<"${in_phase[$p]}") ($(tr ' ' '\n' <<<"${in_phase[$p]}" | sed '/^$/d' | sort | uniq -c | awk '{printf "%s%s %s", s, $2, $1; s = ", "}'))"
	done
	pass "$UPDATE_CUTS cuts 0 to $span ms after the command (an update without a cut committed in $d_ms ms); last phase on the broker before the cut: $phases; after the boot: $old_n on the version before, $new_n on the new one, each active, in the slot slots/current names, with state and slots/state consistent; $trials trials pending after a boot, each resolved within the window; $((boot_total / UPDATE_CUTS)) s to ssh on average"
}

# The second agent, on the host: device edge-twin (after edge-st by id,
# so the guest is the canary), its own state directory, EDGE_UPDATE=on,
# the same broker, under a loop that starts it again when it exits with
# a failure, as the unit's Restart=on-failure does (no systemd here).
twin_pid=
twin_start() {
	local d=$run/twin
	mkdir -p "$d/state"
	cp "$new_bin" "$d/edge-agent"
	cp "$run/operator.pub" "$d/authorized_keys"
	: >"$d/restarts"
	(
		cd "$d/state" || exit 1
		export STATE_DIRECTORY=$d/state EDGE_DEVICE_ID=edge-twin EDGE_UPDATE=on EDGE_UPDATE_HEALTH_WINDOW=${upd_window}s \
			EDGE_ACTIONS_AUTHORIZED_KEYS=$d/authorized_keys EDGE_MQTT_URL=tcp://127.0.0.1:$upd_port EDGE_MQTT_INTERVAL=5s \
			EDGE_NTP_ADDR=127.0.0.1:11123 EDGE_ECHO_ADDR=127.0.0.1:18081 EDGE_TIME_ADDR=127.0.0.1:18080 \
			EDGE_FILE_ADDR=127.0.0.1:18080 EDGE_MQTT_DISCOVERY_PREFIX=off
		trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM
		while :; do
			"$d/edge-agent" run &
			child=$!
			echo "$child" >"$d/pid"
			wait "$child" && exit 0
			echo "exit $? at $(date +%s)" >>"$d/restarts"
			sleep 1
		done
	) >>"$run/twin.log" 2>&1 &
	twin_pid=$!
}

twin_stop() {
	stop_pid twin_pid
	local p
	p=$(cat "$run/twin/pid" 2>/dev/null) || return 0
	kill -KILL "$p" 2>/dev/null || true
}

# fleet_update_both NAME [ARGS...]: edge-agent fleet update of edge-twin
# and edge-st, the guest (edge-st) the canary, with the binaries in
# $run/NAME; its output in $run/NAME.out and .err, shown; fu_rc is its
# exit status, fu_took its seconds.
fleet_update_both() {
	local name=$1 t0=$SECONDS
	shift
	fu_rc=0
	timeout 300 "$host_agent" fleet update --binaries "$run/$name" "$@" \
		--device edge-twin --device edge-st --canary 1 --key "$run/operator" \
		--broker "tcp://127.0.0.1:$upd_port" --listen :8999 --url http://10.0.2.2:8999 --timeout 3m \
		>"$run/$name.out" 2>"$run/$name.err" || fu_rc=$?
	fu_took=$((SECONDS - t0))
	sed 's/^/  | /' "$run/$name.out"
}

step_canary() {
	step_begin canary "edge-agent fleet update --canary 1 to a version that exits at once: the guest, then a second agent on the host"
	upd_setup
	upd_wait_agent
	# The host answers on 10.0.2.2 too, the address the devices fetch from.
	ip addr add 10.0.2.2/32 dev lo 2>/dev/null || true
	local mark r0 twin0 since
	mark=$(tap_mark)
	twin_start
	twin0=$(tap_wait "$mark" edge/edge-twin/state "d['update']['enabled']" 60) ||
		fail "the second agent published no state with updates on: $(tail -n 10 "$run/twin.log")"
	[[ $(jget "${twin0#* }" 'd["version"]') == "$new_version" ]] || fail "the second agent: $(jget "${twin0#* }" 'd["version"]')"
	r0=$(running)
	rm -rf "$run/canary"
	mkdir -p "$run/canary"
	cp "$exits_bin" "$run/canary/edge-agent-linux-$ARCH"
	mark=$(tap_mark)
	since=$(guest_ok date date +%s)
	local rc took
	fleet_update_both canary --version "$exits_version"
	rc=$fu_rc took=$fu_took
	[[ $rc == 1 ]] || fail "fleet update exited $rc, want 1: $(cat "$run/canary.out" "$run/canary.err")"
	local row_st row_twin
	row_st=$(grep -E '^edge-st ' "$run/canary.out" | tail -n 1) || fail "no row for edge-st: $(cat "$run/canary.out")"
	row_twin=$(grep -E '^edge-twin ' "$run/canary.out" | tail -n 1) || fail "no row for edge-twin: $(cat "$run/canary.out")"
	[[ $row_st == *"rolled back"* || $row_st == *rolled_back* ]] || fail "edge-st's row: $row_st"
	[[ $row_twin == *skipped* ]] || fail "edge-twin's row: $row_twin"
	# The canary: rolled back by the launcher under systemd.
	local back
	back=$(guest "journalctl -u edge-agent --since @$since -q -o cat --no-pager | grep -m1 'edge-agent launcher: update .*rolled_back'") ||
		fail "no rollback in the guest's journal"
	tap_find "$mark" edge/edge-st/events/update_failed "d['data']['to'] == '$exits_version'" >/dev/null || fail "no update_failed from edge-st"
	local r1
	r1=$(running)
	[[ ${r1##* } == "${r0##* }" ]] || fail "the canary runs $r1, before $r0"
	# The other device was never asked.
	local asked
	asked=$(tap_count "$mark" 'edge/edge-twin/cmd/update*')
	[[ $asked == 0 ]] || fail "edge-twin was sent $asked update messages"
	[[ $(tap_count "$mark" 'edge/edge-twin/events/update*') == 0 ]] || fail "edge-twin reported update events"
	local twin1
	twin1=$(tap_wait "$(tap_mark)" edge/edge-twin/state True 15) || fail "the second agent stopped publishing its state"
	[[ $(jget "${twin1#* }" 'd["version"]') == "$new_version" && -z $(jget "${twin1#* }" 'd["update"].get("last")') &&
		$(cat "$run/twin/state/slots/current") == a && ! -s $run/twin/restarts ]] ||
		fail "edge-twin changed: $(jget "${twin1#* }" 'd["update"]'), current $(cat "$run/twin/state/slots/current"), restarts $(cat "$run/twin/restarts")"
	# Then a good update of both, the canary first: how long updating two
	# devices takes, to a version neither runs (edge-twin runs this build).
	local to_bin=$next_bin to_version=$new_next
	if [[ ${r1##* } == "$new_next" ]]; then
		to_bin=$previous_bin to_version=$previous_version
	fi
	rm -rf "$run/both"
	mkdir -p "$run/both"
	cp "$to_bin" "$run/both/edge-agent-linux-$ARCH"
	echo "$to_version" >"$run/both/VERSION" # as make cross writes it
	local rc2 took2
	fleet_update_both both
	rc2=$fu_rc took2=$fu_took
	[[ $rc2 == 0 ]] || fail "fleet update of both to $to_version exited $rc2: $(cat "$run/both.out" "$run/both.err")"
	grep -Eq '^edge-st .*healthy' "$run/both.out" && grep -Eq '^edge-twin .*healthy' "$run/both.out" ||
		fail "not both healthy: $(cat "$run/both.out")"
	local r2
	r2=$(running)
	[[ ${r2##* } == "$to_version" ]] || fail "after the update of both the guest runs $r2"
	twin_stop
	say "two devices (the guest, then edge-twin) updated to $to_version by fleet update --canary 1 in $took2 s"
	pass "fleet update exited 1 after $took s: edge-st (canary) '$(awk '{$1 = ""; print}' <<<"$row_st" | sed 's/^ *//')', rolled back by the launcher ('${back#*: update }'), update_failed published; edge-twin '$(awk '{$1 = ""; print}' <<<"$row_twin" | sed 's/^ *//')': no command sent, no update event, state and slots unchanged, no restart (loop in place of systemd); then both updated to $to_version in $took2 s (exit 0)"
}
