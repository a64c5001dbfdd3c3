# shellcheck shell=bash
# Sourced by scripts/system-test.sh: the steps, each ending in one PASS
# line with its figures or a FAIL. Globals: those of guest.sh, plus repo,
# host_agent (an edge-agent for the host), new_bin and previous_bin (the
# builds for the guest), new_version, previous_version, driver.

received=/var/lib/edge-agent/received

# cli ARGS...: the edge-agent command line on the host.
cli() { "$host_agent" "$@"; }

# sha_in_guest FILE: the SHA-256 of a file in the guest.
sha_in_guest() { guest_ok "sha256sum $1" "sha256sum $1" | cut -d' ' -f1; }

# agent_pid: the service's main process in the guest.
agent_pid() { guest_ok "MainPID" systemctl show -p MainPID --value edge-agent; }

# upload_and_verify NAME SIZE: send a random file with edge-agent send
# and compare its SHA-256 in the guest.
upload_and_verify() {
	head -c "$2" /dev/urandom >"$run/$1"
	cli send 127.0.0.1:8080 "$run/$1" >"$run/send.log" 2>&1 || fail "edge-agent send $1: $(cat "$run/send.log")"
	local want got
	want=$(sha256sum "$run/$1" | cut -d' ' -f1)
	got=$(sha_in_guest "$received/$1")
	[[ $got == "$want" ]] || fail "$1 in the guest has SHA-256 $got, sent $want"
}

# check_services: every service answers from the host; prints a summary.
check_services() {
	local out rc=0 text want reply
	out=$(cli time --timeout 10s 127.0.0.1:1123 2>&1) || rc=$?
	[[ $out == *stratum* ]] || fail "SNTP from the host: $out"
	if ((rc != 0)) && [[ $out != *"not synchronised"* ]]; then
		fail "SNTP from the host: exit $rc: $out"
	fi
	local sntp
	sntp="stratum $(awk '/^stratum/ {print $2}' <<<"$out"), leap $(awk '/^leap/ {print $2}' <<<"$out")"
	text=$(cli time --timeout 10s --format '%Y-%m-%d %Z' 127.0.0.1:8080 2>&1) || fail "text time: $text"
	want=$(guest_ok date "date +'%Y-%m-%d %Z'")
	[[ $text == "$want" ]] || fail "text time answered '$text', the guest's date is '$want'"
	reply=$(cli echo --timeout 10s 127.0.0.1:8081 'echo over TCP' 2>&1) || fail "echo TCP: $reply"
	[[ $reply == "ECHO OVER TCP" || $reply == "echo over TCP" ]] || fail "echo TCP answered '$reply'"
	reply=$(cli echo --udp --timeout 10s 127.0.0.1:8081 'echo over UDP' 2>&1) || fail "echo UDP: $reply"
	[[ $reply == "ECHO OVER UDP" || $reply == "echo over UDP" ]] || fail "echo UDP answered '$reply'"
	printf 'SNTP (%s), text time, echo TCP and UDP' "$sntp"
}

# fleet_line: this device in edge-agent fleet --json, run in the guest.
fleet_line() {
	local deadline=$((SECONDS + 60)) out
	while :; do
		out=$(guest edge-agent fleet --json 2>&1) || out=
		if [[ $out == *'"id":"edge-st","online":true'* && $out == *"\"version\":\"$1\""* ]]; then
			printf '%s' "$out"
			return
		fi
		((SECONDS < deadline)) || fail "edge-agent fleet in the guest does not show edge-st online at $1: $out"
		sleep 2
	done
}

step_install() {
	step_begin install "install.sh in the guest with the $ARCH build $previous_version"
	guest_ok "bundle dir" mkdir -p /root/bundle
	scp -q -F "$run/ssh_config" "$previous_bin" guest:/root/bundle/edge-agent || fail "scp of the build"
	scp -q -F "$run/ssh_config" scripts/install.sh scripts/edge-agent.service scripts/edge-agent.env guest:/root/bundle/ ||
		fail "scp of the install files"
	guest 'cd /root/bundle && sh install.sh --restart ./edge-agent' >"$run/install.log" 2>&1 ||
		fail "install.sh: $(cat "$run/install.log")"
	wait_agent
	local pid user uid caps bound
	pid=$(agent_pid)
	read -r user uid < <(guest_ok ps ps -o user:32=,uid= -p "$pid")
	[[ $user == edge-agent && $uid -lt 1000 &&
		$(guest_ok UID systemctl show -p UID --value edge-agent) == "$uid" ]] ||
		fail "the agent runs as $user (uid $uid), want the system user edge-agent"
	caps=$(guest_ok caps "awk '/^CapEff/ {print \$2}' /proc/$pid/status")
	[[ $caps == 0000000000000400 ]] || fail "effective capabilities $caps, want only CAP_NET_BIND_SERVICE (0x400)"
	bound=$(guest_ok "ss" "ss -Hlnup 'sport = :123'")
	[[ $bound == *edge-agent* ]] || fail "port 123/udp is not bound by edge-agent: $bound"
	for f in /usr/local/bin/edge-agent /etc/systemd/system/edge-agent.service /etc/default/edge-agent; do
		guest test -f "$f" || fail "install.sh did not install $f"
	done
	local services
	services=$(check_services)
	upload_and_verify install.bin 1048576
	local mode
	mode=$(guest_ok stat "stat -c '%u %a' $received/install.bin")
	[[ $mode == "$uid 600" ]] || fail "the received file has owner and mode $mode, want $uid 600"
	fleet_line "$previous_version" >/dev/null
	local state
	state=$(guest_ok "MQTT state" 'mosquitto_sub -h 127.0.0.1 -t "edge/edge-st/state" -C 1 -W 10')
	"$driver" state version services.file.counters.files <<<"$state" >"$run/state.txt" ||
		fail "the state on the embedded broker: $(head -c 300 <<<"$state")"
	grep -q "^version=$previous_version\$" "$run/state.txt" || fail "state: $(cat "$run/state.txt")"
	exposure=$(guest_ok "systemd-analyze security" "systemd-analyze security --no-pager edge-agent.service" | tee "$run/security.txt" |
		sed -n 's/.*Overall exposure level for edge-agent.service: \([0-9.]*\).*/\1/p')
	[[ -n $exposure ]] || fail "no exposure level in: $(tail -n 3 "$run/security.txt")"
	pass "uid $uid (system user edge-agent), CapEff 0x400, :123/udp bound; $services; 1 MiB upload (edge-agent send) verified, mode 600; online in fleet and state on the embedded broker; exposure $exposure"
}

step_deploy() {
	step_begin deploy "scripts/deploy.sh over ssh (key, port 2222) with $new_version"
	guest_ok "settings" "printf '\n# set by the system test\nEDGE_ECHO_MODE=plain\nEDGE_MQTT_INTERVAL=5s\n' >>/etc/default/edge-agent && systemctl restart edge-agent"
	wait_agent
	# As an install by an earlier unit, with DynamicUser=: its state in
	# /var/lib/private, which the current unit must take over.
	guest_ok "DynamicUser" "sed -i -e 's/^User=edge-agent/DynamicUser=yes/' -e '/^Group=edge-agent/d' /etc/systemd/system/edge-agent.service &&
		systemctl daemon-reload && systemctl restart edge-agent" >/dev/null
	wait_agent
	guest test -d /var/lib/private/edge-agent/received -a -L /var/lib/edge-agent ||
		fail "with DynamicUser= the state is not in /var/lib/private: $(guest ls -la /var/lib /var/lib/private 2>&1)"
	local reply conf pid0 pid1 file v t0
	reply=$(cli echo --timeout 10s 127.0.0.1:8081 'Plain now')
	[[ $reply == "Plain now" ]] || fail "EDGE_ECHO_MODE=plain not applied: '$reply'"
	conf=$(sha_in_guest /etc/default/edge-agent)
	file=$(sha_in_guest $received/install.bin)
	pid0=$(agent_pid)
	t0=$SECONDS
	SSH="ssh -F $run/ssh_config -p 2222" SCP="scp -F $run/ssh_config -P 2222" \
		scripts/deploy.sh pi@127.0.0.1 </dev/null >"$run/deploy.log" 2>&1 ||
		fail "deploy.sh: $(tail -n 20 "$run/deploy.log")"
	local took=$((SECONDS - t0))
	wait_agent
	pid1=$(agent_pid)
	[[ $pid1 != "$pid0" ]] || fail "the service was not restarted (main PID still $pid0)"
	v=$(guest_ok version /usr/local/bin/edge-agent version)
	[[ $v == "edge-agent $new_version "* ]] || fail "installed version: $v, want $new_version"
	[[ $(sha_in_guest /etc/default/edge-agent) == "$conf" ]] || fail "/etc/default/edge-agent changed"
	[[ $(sha_in_guest $received/install.bin) == "$file" ]] || fail "the received file changed"
	local owner
	owner=$(guest_ok stat "test ! -L /var/lib/edge-agent && stat -c '%U' /var/lib/edge-agent $received/install.bin | sort -u")
	[[ $owner == edge-agent ]] || fail "the state directory was not taken over from DynamicUser=: owners $owner"
	reply=$(cli echo --timeout 10s 127.0.0.1:8081 'Still plain')
	[[ $reply == "Still plain" ]] || fail "the settings are not in effect after the deploy: '$reply'"
	fleet_line "$new_version" >/dev/null
	pass "deploy.sh took $took s; $previous_version -> $new_version, main PID $pid0 -> $pid1; settings and received file unchanged and in effect; the state of a DynamicUser= install moved to /var/lib/edge-agent, owned by edge-agent"
}

# check_survivors: the state of install and deploy is still there.
check_survivors() {
	local v
	v=$(guest_ok version /usr/local/bin/edge-agent version)
	[[ $v == "edge-agent $new_version "* ]] || fail "installed version: $v"
	guest test -f $received/install.bin || fail "install.bin is gone"
	[[ $(cli echo --timeout 10s 127.0.0.1:8081 'Plain') == Plain ]] || fail "settings lost"
}

step_reboot() {
	step_begin reboot "systemctl reboot in the guest"
	local pid uid owners
	reboot_guest
	local back=$boot_s
	wait_agent
	check_survivors
	fleet_line "$new_version" >/dev/null
	pid=$(agent_pid)
	uid=$(guest_ok uid ps -o uid= -p "$pid")
	uid=${uid//[[:space:]]/}
	owners=$(guest_ok stat "stat -c '%u %a %n' /var/lib/edge-agent $received $received/install.bin")
	while read -r o m n; do
		[[ $o == "$uid" ]] || fail "$n is owned by uid $o, the agent runs as $uid"
	done <<<"$owners"
	upload_and_verify reboot.bin 262144
	local restarts
	restarts=$(guest_ok NRestarts systemctl show -p NRestarts --value edge-agent)
	[[ $restarts == 0 ]] || fail "the service restarted $restarts times after boot"
	pass "back over ssh in $back s; $new_version active, received files, settings kept; state directory, received/ and files owned by the agent's uid $uid ($(awk '{printf "%s%s %s", s, $3, $2; s=", "}' <<<"$owners")); a new upload stored"
}
