#!/usr/bin/env bash
# system-test.sh — boot Debian bookworm with systemd in qemu and drive
# edge-agent there from outside, as a user would and as bad luck would:
# install with install.sh, deploy with deploy.sh over ssh, reboot, power
# cuts during uploads, clock steps and a boot with the RTC a year behind,
# signed actions (a reboot through systemd-logind and polkit),
# systemd-timesyncd and chrony as clients of an agent, signed updates
# (rollbacks of versions that fail, power cuts during updates, a canary
# with a second agent on the host). Each step prints a
# PASS line with its figures, or FAIL with the guest's serial console and
# journal. README "Tested on a real system" says what each step checks.
#
# Usage: make system-test [ARCH=arm64] [POWER_CUTS=50] [UPDATE_CUTS=30]
#   make builds what this needs: dist/edge-agent (the host's),
#   dist/edge-agent-linux-ARCH and, in dist/system-test,
#   edge-agent-previous-linux-ARCH, edge-agent-next-linux-ARCH and
#   update-{exits,hangs}-linux-ARCH.
#
# Environment:
#   ARCH          amd64 (default: every step) or arm64 (install, deploy, reboot)
#   POWER_CUTS    power cuts in the power step (default 10)
#   UPDATE_CUTS   power cuts during updates in the updpower step (default 10)
#   STEPS         the steps to run, in order (default: all of ARCH's)
#   BOOT_TIMEOUT  seconds a boot may take to ssh (default 240 amd64, 600 arm64)
#
# The guest image is built once with mmdebstrap (scripts/system-test/image.sh)
# and cached in dist/system-test/image-ARCH-HASH, HASH naming the image
# script; logs stay in dist/system-test/run-ARCH. Everything runs in a
# network namespace of its own (unshare -n): qemu's user network with
# forwarded ports, an agent for the guest's time clients on 127.0.0.1:123,
# and nothing reachable beyond. Every process started here is stopped on
# exit, failure or Ctrl-C.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
ARCH=${ARCH:-amd64}
POWER_CUTS=${POWER_CUTS:-10}
UPDATE_CUTS=${UPDATE_CUTS:-10}
st=$repo/dist/system-test
lib=$repo/scripts/system-test

case $ARCH in
amd64) default_steps="install deploy reboot actions timesync clock rtc power update updpower canary" ;;
arm64) default_steps="install deploy reboot" ;;
*)
	echo "system-test: ARCH must be amd64 or arm64, not '$ARCH'" >&2
	exit 2
	;;
esac
STEPS=${STEPS:-$default_steps}

host_agent=$repo/dist/edge-agent
new_bin=$repo/dist/edge-agent-linux-$ARCH
previous_bin=$st/edge-agent-previous-linux-$ARCH

if [[ ${1:-} != --in-netns ]]; then
	t_start=$SECONDS
	[[ $(id -u) == 0 ]] || {
		echo "system-test: run as root (mmdebstrap, the network namespace)" >&2
		exit 1
	}
	for f in "$host_agent" "$new_bin" "$previous_bin"; do
		[[ -x $f ]] || {
			echo "system-test: $f missing: run make system-test" >&2
			exit 1
		}
	done
	qemu="qemu-system-x86_64"
	[[ $ARCH == arm64 ]] && qemu="qemu-system-aarch64"
	for c in mmdebstrap "$qemu" mkfs.ext4 ssh scp ssh-keygen unshare ip go mosquitto mosquitto_sub mosquitto_rr socat python3; do
		command -v "$c" >/dev/null || {
			echo "system-test: $c not found (make system-test installs the Debian packages)" >&2
			exit 1
		}
	done
	# shellcheck source=scripts/system-test/image-cache.sh
	. "$lib/image-cache.sh"
	image_ready
	export ST_IMAGE=$img ST_IMAGE_BUILD_S=$image_build_s
	rc=0
	unshare --net -- bash "${BASH_SOURCE[0]}" --in-netns || rc=$?
	echo "system-test: $ARCH: $([[ $rc == 0 ]] && echo passed || echo FAILED) in $((SECONDS - t_start)) s (image: $image_how)"
	exit "$rc"
fi

# Inside the network namespace from here on.
img=$ST_IMAGE
run=$st/run-$ARCH
ip link set lo up
if [[ $ARCH == amd64 ]]; then BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}; else BOOT_TIMEOUT=${BOOT_TIMEOUT:-600}; fi
# shellcheck source=scripts/system-test/guest.sh
. "$lib/guest.sh"
# shellcheck source=scripts/system-test/steps.sh
. "$lib/steps.sh"
# shellcheck source=scripts/system-test/steps-time.sh
. "$lib/steps-time.sh"
# shellcheck source=scripts/system-test/steps-power.sh
. "$lib/steps-power.sh"
# shellcheck source=scripts/system-test/steps-actions.sh
. "$lib/steps-actions.sh"
# shellcheck source=scripts/system-test/steps-update.sh
. "$lib/steps-update.sh"
# shellcheck source=scripts/system-test/update-broker.sh
. "$lib/update-broker.sh"
# shellcheck source=scripts/system-test/steps-update-power.sh
. "$lib/steps-update-power.sh"

host_pid= # the host's agent for the guest's time clients
upload_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ $rc != 0 ]]; then
		if [[ $failed == 0 && -n $err_at ]]; then
			say "FAIL $step_name: a command failed: $err_at" >&2
		fi
		diagnostics >&2 || true
	fi
	update_cleanup || true
	for p in $upload_pid $host_pid $qpid; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -f "$run/disk.ext4"
	if ((${#summary[@]} > 0)); then
		say "summary ($ARCH, accel $accel):"
		printf '  %s\n' "${summary[@]}"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$run"
mkdir -p "$run"
new_version=$("$host_agent" version | awk '{print $2}')
# As the Makefile builds it (an arm64 build does not run on the host to say).
previous_version=$new_version-previous

# ssh to the guest: the image's key, its host key pinned, port 2222.
printf '[127.0.0.1]:2222 %s\n' "$(cat "$img/host_key.pub")" >"$run/known_hosts"
cat >"$run/ssh_config" <<EOF
Host guest 127.0.0.1
	HostName 127.0.0.1
	Port 2222
	User root
	IdentityFile $img/id_ed25519
	IdentitiesOnly yes
	UserKnownHostsFile $run/known_hosts
	StrictHostKeyChecking yes
	BatchMode yes
	ConnectTimeout 8
	ServerAliveInterval 5
	ServerAliveCountMax 4
	LogLevel ERROR
EOF
printf '#!/bin/sh\nexec ssh -F "%s" guest "$@"\n' "$run/ssh_config" >"$run/guest"
chmod +x "$run/guest"

driver=$run/systemtest
go build -o "$driver" ./scripts/systemtest

# KVM where it works; these machines have /dev/kvm but a guest under it
# does not get past the firmware, so a short probe decides.
accel=tcg,thread=multi
if [[ $ARCH == amd64 && -w /dev/kvm && $(uname -m) == x86_64 ]]; then
	timeout 8 qemu-system-x86_64 -accel kvm -nodefaults -no-user-config -display none -m 256 \
		-serial "file:$run/kvm-probe.log" -kernel "$img/vmlinuz" -append 'console=ttyS0 panic=-1' -no-reboot \
		>/dev/null 2>&1 || true
	if grep -q 'Linux version' "$run/kvm-probe.log" 2>/dev/null; then accel=kvm; fi
fi
say "$ARCH guest, accel $accel, image $img (built in ${ST_IMAGE_BUILD_S} s or cached), steps: $STEPS"

cp --sparse=always "$img/disk.ext4" "$run/disk.ext4"
step_begin boot "first boot of the image"
boot_guest
pass "ssh after $boot_s s ($(guest_ok uname uname -srm))"

for s in $STEPS; do
	"step_$s"
done
