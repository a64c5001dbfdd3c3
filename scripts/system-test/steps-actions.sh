# shellcheck shell=bash
# Sourced by scripts/system-test.sh: signed actions under real systemd,
# polkit and D-Bus. An operator key made on the host is the guest's only
# authorised key; a script action goes through `edge-agent fleet run`, a
# reboot signed by hand with OpenSSH's ssh-keygen goes to systemd-logind
# through the polkit rule install.sh wrote, and the same signed command
# sent again after the reboot is refused as a replay. The operator logs
# in to the embedded broker with a password; anonymous clients (the later
# steps' mosquitto_sub) may still read, and may not publish commands.

# rr TOPIC PAYLOAD: publish PAYLOAD on the device's TOPIC as the operator
# and print the reply (mosquitto_rr subscribes to the reply first).
rr() {
	guest "mosquitto_rr -h 127.0.0.1 -u operator -P '$mqtt_password' -t 'edge/edge-st/$1' -e 'edge/edge-st/$1/reply' -W 20 -m '$2'"
}

# signed_payload ACTION COUNTER: the command, signed with the operator's
# key by ssh-keygen -Y sign, as the JSON payload of cmd/ACTION.
signed_payload() {
	printf '{"device":"edge-st","action":"%s","counter":%s}' "$1" "$2" >"$run/command.json"
	rm -f "$run/command.json.sig"
	ssh-keygen -q -Y sign -n edge-agent -f "$run/operator" "$run/command.json" >/dev/null 2>&1 ||
		fail "ssh-keygen -Y sign"
	python3 -c 'import json, sys; print(json.dumps({"command": open(sys.argv[1]).read(), "signature": open(sys.argv[2]).read()}))' \
		"$run/command.json" "$run/command.json.sig"
}

# reply_field JSON FIELD: one top-level field of a reply.
reply_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }

step_actions() {
	step_begin actions "signed actions: a script with fleet run, a reboot through logind and polkit signed with ssh-keygen, its replay"
	mqtt_password=operator-$RANDOM$RANDOM
	rm -f "$run/operator" "$run/operator.pub" "$run/mqtt-passwd"
	ssh-keygen -q -t ed25519 -N '' -C operator@system-test -f "$run/operator"
	touch "$run/mqtt-passwd"
	mosquitto_passwd -b "$run/mqtt-passwd" operator "$mqtt_password" || fail "mosquitto_passwd"
	guest_ok "dirs" install -d -m 0755 /etc/edge-agent /etc/edge-agent/actions.d /root/bundle2 >/dev/null
	scp -q -F "$run/ssh_config" "$run/operator.pub" guest:/etc/edge-agent/authorized_keys || fail "scp of the key"
	scp -q -F "$run/ssh_config" "$run/operator" guest:/root/operator || fail "scp of the key"
	scp -q -F "$run/ssh_config" "$run/mqtt-passwd" guest:/etc/edge-agent/mqtt-passwd || fail "scp of the password file"
	scp -q -F "$run/ssh_config" "$new_bin" guest:/root/bundle2/edge-agent || fail "scp of the build"
	scp -q -F "$run/ssh_config" scripts/install.sh scripts/edge-agent.service scripts/edge-agent.env guest:/root/bundle2/ ||
		fail "scp of the install files"
	guest_ok "script" "printf '#!/bin/sh\necho \"hello \$*\"\n' >/etc/edge-agent/actions.d/hello &&
		chmod 0755 /etc/edge-agent/actions.d/hello && chmod 0644 /etc/edge-agent/authorized_keys /etc/edge-agent/mqtt-passwd &&
		printf 'EDGE_ACTIONS=reboot,script:hello\nEDGE_MQTT_EMBEDDED_PASSWORD_FILE=/etc/edge-agent/mqtt-passwd\nEDGE_MQTT_EMBEDDED_ANONYMOUS=true\n' >>/etc/default/edge-agent &&
		printf '%s' '$mqtt_password' >/root/mqtt-password" >/dev/null
	guest 'cd /root/bundle2 && sh install.sh --restart ./edge-agent' >"$run/install-actions.log" 2>&1 ||
		fail "install.sh: $(cat "$run/install-actions.log")"
	local rule
	rule=$(guest 'ls /etc/polkit-1/rules.d/ 2>/dev/null | grep edge-agent') || fail "install.sh wrote no polkit rule: $(cat "$run/install-actions.log")"
	wait_agent

	# A script, through the agent's own client signing with the key file.
	local out t0=$SECONDS
	out=$(guest "edge-agent fleet run script:hello one two --device edge-st --key /root/operator --timeout 30s \
		--username operator --password-file /root/mqtt-password" 2>&1) || fail "fleet run script:hello: $out"
	[[ $out == *"hello one two"* ]] || fail "fleet run script:hello did not show the script's output: $out"
	local script_s=$((SECONDS - t0))

	# Refused: unsigned, and signed by a key the device does not list.
	local reply code
	reply=$(rr cmd/reboot '{"command":"{}","signature":""}') || fail "no reply to an unsigned reboot: $reply"
	code=$(reply_field "$reply" code)
	[[ $code == malformed || $code == bad_signature ]] || fail "an unsigned reboot was answered $reply"
	local stranger=$run/stranger
	rm -f "$stranger" "$stranger.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$stranger"
	printf '{"device":"edge-st","action":"reboot","counter":%s}' "$(date +%s%N)" >"$run/stranger.json"
	ssh-keygen -q -Y sign -n edge-agent -f "$stranger" "$run/stranger.json" >/dev/null 2>&1 || fail "ssh-keygen -Y sign"
	reply=$(rr cmd/reboot "$(python3 -c 'import json, sys; print(json.dumps({"command": open(sys.argv[1]).read(), "signature": open(sys.argv[2]).read()}))' "$run/stranger.json" "$run/stranger.json.sig")") ||
		fail "no reply to a reboot signed by an unlisted key"
	[[ $(reply_field "$reply" code) == unknown_key ]] || fail "a reboot signed by an unlisted key was answered $reply"

	# The reboot, signed by hand. Its reply is published as logind starts
	# the shutdown, which may end the ssh session of mosquitto_rr (and the
	# embedded broker) first: without a reply, the previous boot's journal
	# must name the key that authorised it.
	local payload old new deadline answered=no
	payload=$(signed_payload reboot "$(date +%s%N)")
	old=$(guest_ok "boot id" cat /proc/sys/kernel/random/boot_id)
	t0=$SECONDS
	if reply=$(rr cmd/reboot "$payload") && [[ -n $reply ]]; then
		[[ $(reply_field "$reply" ok) == True ]] || fail "the signed reboot was refused: $reply"
		answered=yes
	fi
	boots=$((boots + 1))
	deadline=$((SECONDS + BOOT_TIMEOUT + 120))
	while :; do
		new=$(timeout 10 "$run/guest" cat /proc/sys/kernel/random/boot_id 2>/dev/null) || new=
		[[ -n $new && $new != "$old" ]] && break
		kill -0 "$qpid" 2>/dev/null || fail "qemu exited during the reboot"
		((SECONDS < deadline)) || fail "the guest did not reboot within $((BOOT_TIMEOUT + 120)) s of the signed reboot: $(guest journalctl -u edge-agent -n 20 --no-pager 2>&1)"
		sleep 1
	done
	local reboot_s=$((SECONDS - t0))
	wait_agent
	local by
	by=$(guest "journalctl -b -1 -u edge-agent --no-pager -o cat | grep -m1 'by=SHA256' | grep -o 'by=[^ ]*'" || true)
	[[ -n $by || $answered == yes ]] || fail "the guest rebooted, but neither a reply nor the journal says the signed reboot was run"

	# The same signed command again, after the reboot: a replay.
	reply=$(rr cmd/reboot "$payload") || fail "no reply to the replayed reboot: $reply"
	[[ $(reply_field "$reply" code) == replay ]] || fail "the replayed reboot was answered $reply"
	[[ $(guest_ok "boot id" cat /proc/sys/kernel/random/boot_id) == "$new" ]] || fail "the replayed reboot rebooted the guest"
	pass "polkit rule $rule; fleet run script:hello answered 'hello one two' in $script_s s; unsigned ($code) and unlisted key (unknown_key) refused; reboot signed with ssh-keygen -Y sign (reply before the shutdown: $answered): guest back over ssh in $reboot_s s${by:+ ($by)}; the same command after the reboot refused as a replay"
}
