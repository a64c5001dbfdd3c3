# shellcheck shell=bash
# Sourced by scripts/system-test.sh: the time steps. The host runs an
# agent of its own on 127.0.0.1:123 of the network namespace, which the
# guest reaches as 10.0.2.2:123 (qemu's user network maps the gateway to
# the host's loopback); the host's kernel clock state is whatever it is,
# so the agent serves it with a fallback stratum to be followed.

chrony=/opt/chrony/usr
fallback_stratum=5

# start_host_agent FALLBACK: (re)start the host's agent, SNTP only.
start_host_agent() {
	stop_host_agent
	(cd "$run" && EDGE_NTP_ADDR=127.0.0.1:123 EDGE_NTP_FALLBACK_STRATUM=$1 EDGE_ECHO_ADDR=off \
		EDGE_TIME_ADDR=off EDGE_FILE_ADDR=off EDGE_MQTT_URL=off exec "$host_agent" run) >>"$run/host-agent.log" 2>&1 &
	host_pid=$!
	local deadline=$((SECONDS + 20))
	until [[ $(cli time --timeout 2s 127.0.0.1:123 2>&1) == *stratum* ]]; do
		((SECONDS < deadline)) || fail "the host's agent does not answer on 127.0.0.1:123: $(tail -n 3 "$run/host-agent.log")"
		sleep 0.5
	done
}

stop_host_agent() {
	if [[ -n $host_pid ]]; then
		kill -TERM "$host_pid" 2>/dev/null || true
		wait "$host_pid" 2>/dev/null || true
		host_pid=
	fi
}

# timesyncd_with SERVER: systemd-timesyncd restarted with SERVER as its
# only server, the guest's clock first marked unsynchronised (date -s).
timesyncd_with() {
	guest_ok "timesyncd" "systemctl stop systemd-timesyncd &&
		printf '[Time]\nNTP=$1\n' >/etc/systemd/timesyncd.conf.d/20-system-test.conf &&
		date -s @\$(date +%s.%N) >/dev/null && systemctl start systemd-timesyncd" >/dev/null
}

# guest_synced: yes or no, the kernel's state as timedatectl shows it.
guest_synced() { guest_ok timedatectl timedatectl show -p NTPSynchronized --value; }

# sync_guest: the guest's clock synchronised from the host's agent by
# systemd-timesyncd, which is then stopped (the kernel stays
# synchronised for hours: its error bound grows 0.5 ms a second).
sync_guest() {
	start_host_agent $fallback_stratum
	timesyncd_with 10.0.2.2
	local deadline=$((SECONDS + 90))
	until [[ $(guest_synced) == yes ]]; do
		((SECONDS < deadline)) || fail "systemd-timesyncd did not synchronise from 10.0.2.2 in 90 s: $(guest timedatectl timesync-status 2>&1)"
		sleep 1
	done
	guest_ok "timesyncd" systemctl stop systemd-timesyncd >/dev/null
}

# chronyd_with SERVER: chronyd (unpacked in the image) run as a transient
# service with SERVER as its only source.
chronyd_with() {
	guest_ok "chronyd" "systemctl stop st-chronyd 2>/dev/null; systemctl reset-failed st-chronyd 2>/dev/null;
		install -d -m 0700 /run/st-chrony && printf '%s\n' 'server $1 iburst minpoll 0 maxpoll 2' 'makestep 1 -1' \
			'cmdport 0' 'bindcmdaddress /run/st-chrony/chronyd.sock' 'pidfile /run/st-chrony/chronyd.pid' \
			>/run/st-chrony/chrony.conf &&
		systemd-run -q --unit=st-chronyd $chrony/sbin/chronyd -d -u root -f /run/st-chrony/chrony.conf" >/dev/null
}
chronyc() { guest "$chrony/bin/chronyc -n -h /run/st-chrony/chronyd.sock $*"; }

step_timesync() {
	step_begin timesync "systemd-timesyncd and chrony in the guest, the host's agent their only server"
	guest_ok "stop timesyncd" systemctl stop systemd-timesyncd
	# The unsynchronised server to be refused: the host's agent without a
	# fallback stratum when the host's clock is unsynchronised, else the
	# guest's own agent with the guest's clock marked unsynchronised.
	local refuse refuse_what
	start_host_agent 0
	if cli time --timeout 5s 127.0.0.1:123 >/dev/null 2>&1; then
		refuse=127.0.0.1 refuse_what="the guest's own agent (the host's clock is synchronised)"
	else
		refuse=10.0.2.2 refuse_what="the host's agent without fallback stratum"
	fi

	# systemd-timesyncd follows the agent at its fallback stratum.
	start_host_agent $fallback_stratum
	timesyncd_with 10.0.2.2
	local deadline=$((SECONDS + 90)) status
	until [[ $(guest_synced) == yes ]]; do
		((SECONDS < deadline)) || fail "systemd-timesyncd did not synchronise in 90 s: $(guest timedatectl timesync-status 2>&1)"
		sleep 1
	done
	status=$(guest_ok "timesync-status" timedatectl timesync-status)
	printf '%s\n' "$status" >"$run/timesync-status.txt"
	grep -Eq 'Server: 10\.0\.2\.2' <<<"$status" || fail "timesync-status does not name 10.0.2.2: $status"
	local packets stratum
	packets=$(awk -F': ' '/Packet count/ {print $2}' <<<"$status")
	stratum=$(awk -F': ' '/Stratum/ {print $2}' <<<"$status")
	[[ $packets -ge 1 && $stratum == "$fallback_stratum" ]] || fail "timesync-status: packets '$packets', stratum '$stratum': $status"
	# The guest's agent follows its kernel: synchronised now, stratum 3.
	local out
	out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1) || fail "the guest's agent, its clock synchronised: $out"
	local gstratum
	gstratum=$(awk '/^stratum/ {print $2}' <<<"$out")

	# ... and refuses an unsynchronised one.
	[[ $refuse == 10.0.2.2 ]] && start_host_agent 0
	local since
	since=$(guest_ok date date +%s)
	timesyncd_with $refuse
	sleep 15
	[[ $(guest_synced) == no ]] || fail "systemd-timesyncd synchronised from $refuse_what"
	local refusal
	refusal=$(guest "journalctl -u systemd-timesyncd --since @$since --no-pager -q -o cat" | grep -E -m1 'Server is not synchronized|invalid stratum' || true)
	[[ -n $refusal ]] || fail "no refusal in the journal of systemd-timesyncd: $(guest "journalctl -u systemd-timesyncd --since @$since --no-pager -q -o cat | tail -n 15")"
	guest_ok "stop timesyncd" systemctl stop systemd-timesyncd

	# chronyd: the clock set 20 s wrong, then corrected from the agent.
	start_host_agent $fallback_stratum
	guest_ok "date" "date -s '+20 seconds'" >/dev/null
	chronyd_with 10.0.2.2
	local tracking
	deadline=$((SECONDS + 60))
	until tracking=$(chronyc tracking 2>&1) && [[ $tracking == *"(10.0.2.2)"* && $tracking == *"Leap status     : Normal"* ]]; do
		((SECONDS < deadline)) || fail "chronyd did not synchronise to 10.0.2.2 in 60 s: $tracking $(chronyc sources 2>&1)"
		sleep 1
	done
	local sources offset
	sources=$(chronyc sources 2>&1)
	grep -q '^\^\* *10\.0\.2\.2' <<<"$sources" || fail "chronyc sources does not select 10.0.2.2: $sources"
	# chronyd steps the clock (which marks it unsynchronised) and tells the
	# kernel it is synchronised at its next update.
	deadline=$((SECONDS + 60))
	until out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1); do
		((SECONDS < deadline)) || fail "the guest's agent 60 s after chronyd synchronised: $out"
		sleep 2
	done
	offset=$(awk '/^offset/ {print $2}' <<<"$out")
	awk -v o="$offset" 'BEGIN {exit !(o < 1 && o > -1)}' || fail "the guest's clock is $offset s off the host's after chrony"
	guest_ok "stop chronyd" systemctl stop st-chronyd

	[[ $refuse == 10.0.2.2 ]] && start_host_agent 0
	guest_ok "date" "date -s @\$(date +%s.%N)" >/dev/null
	chronyd_with $refuse
	sleep 12
	tracking=$(chronyc tracking 2>&1)
	local ntpdata rx good
	ntpdata=$(chronyc ntpdata $refuse 2>&1)
	guest_ok "stop chronyd" systemctl stop st-chronyd
	[[ $tracking == *"Leap status     : Not synchronised"* ]] || fail "chronyd followed $refuse_what: $tracking"
	rx=$(awk -F': ' '/^Total RX/ {print $2}' <<<"$ntpdata")
	good=$(awk -F': ' '/^Total good RX/ {print $2}' <<<"$ntpdata")
	[[ $rx -ge 1 && $good == 0 ]] || fail "chronyd's packets from $refuse: $ntpdata"
	pass "timesyncd: synchronised from the host's agent (timesync-status: server 10.0.2.2, stratum $stratum, $packets packets), the guest's agent then at stratum $gstratum; refused $refuse_what ('$refusal'); chronyd: selected 10.0.2.2 (^*), stepped the clock set 20 s off to $offset s; refused $refuse_what ($rx replies received, 0 good, not synchronised)"
}

step_clock() {
	step_begin clock "the guest's clock stepped a day forward and an hour back under load"
	sync_guest
	# The state every 5 s (as the deploy step sets it, repeated for a run
	# of STEPS without it), partials expired by a short TTL.
	guest_ok "settings" "printf 'EDGE_MQTT_INTERVAL=5s\nEDGE_FILE_PARTIAL_TTL=2m\n' >>/etc/default/edge-agent && systemctl restart edge-agent"
	wait_agent
	"$driver" clock -guest "$run/guest" -dwell 40s >"$run/clock.log" 2>&1 || {
		cat "$run/clock.log" >&2
		fail "clock steps (above)"
	}
	sed 's/^/  /' "$run/clock.log"
	# Back to the host's time: a step of 23 hours back.
	sync_guest
	local out limits
	limits=$("$driver" limits -when "after systemd-timesyncd stepped the clock 23 h back" 2>&1) || fail "$limits"
	echo "  $limits"
	out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1) || fail "the guest's agent after resynchronising: $out"
	pass "$(($(grep -c '^  ok' "$run/clock.log") + 1)) checks held (above); SNTP unsynchronised after the step, stratum $(awk '/^stratum/ {print $2}' <<<"$out") again after systemd-timesyncd resynchronised"
}

step_rtc() {
	step_begin rtc "a boot with the RTC a year behind, as on a Pi without one"
	# As on a first boot: no clock file from systemd-timesyncd to bring
	# the clock forward, and no time server yet.
	guest_ok "timesyncd" "systemctl stop systemd-timesyncd; rm -f /etc/systemd/timesyncd.conf.d/20-system-test.conf /var/lib/systemd/timesync/clock"
	guest_ok "settings" "printf 'EDGE_MQTT_INTERVAL=5s\n' >>/etc/default/edge-agent"
	poweroff_guest
	local past
	past=$(date -u -d '-1 year' +%Y-%m-%dT%H:%M:%S)
	boot_guest "$past"
	wait_agent
	local behind pid0 out state
	behind=$(($(date +%s) - $(guest_ok date date +%s)))
	pid0=$(agent_pid)
	out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1) && fail "the agent says synchronised with the clock $behind s behind: $out"
	[[ $out == *"not synchronised"* ]] || fail "SNTP: $out"
	state=$(guest_ok "state" 'mosquitto_sub -h 127.0.0.1 -t "edge/edge-st/state" -C 1 -W 10' | "$driver" state clock.synchronised)
	[[ $state == clock.synchronised=false ]] || fail "state: $state"
	sync_guest
	local after pid1 uptime
	after=$(($(date +%s) - $(guest_ok date date +%s)))
	pid1=$(agent_pid)
	[[ $pid1 == "$pid0" ]] || fail "the agent restarted when the clock jumped ($pid0 -> $pid1)"
	out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1) || fail "SNTP after the sync: $out"
	# The next state published (EDGE_MQTT_INTERVAL is 5 s).
	state=$(guest_ok "state" 'mosquitto_sub -h 127.0.0.1 -t "edge/edge-st/state" -C 1 -R -W 20' | "$driver" state clock.synchronised agent_uptime_s)
	[[ $state == *clock.synchronised=true* ]] || fail "state after the sync: $state"
	uptime=$(sed -n 's/^agent_uptime_s=//p' <<<"$state")
	awk -v u="$uptime" 'BEGIN {exit !(u > 0 && u < 900)}' || fail "agent_uptime_s $uptime after the clock jumped"
	local epoch stratum
	epoch=$(guest "journalctl -b -q --no-pager -o cat | grep -m1 -i 'advancing clock'" || true)
	stratum=$(awk '/^stratum/ {print $2}' <<<"$out")
	pass "RTC $past: the guest came up $((behind / 86400)) days behind the host${epoch:+ (systemd: \"$epoch\")}; agent up, SNTP leap 3 and state clock.synchronised false; systemd-timesyncd then stepped the clock $((behind - after)) s forward: same agent process, SNTP stratum $stratum, state synchronised, agent_uptime_s $uptime"
}
