# shellcheck shell=bash
# Sourced by scripts/system-test.sh inside its network namespace: the
# virtual machine (boot, reboot, clean power-off, power cut), ssh to it,
# and the step bookkeeping. Globals set by the caller: ARCH, accel, img
# (the cached image), run (this run's directory), BOOT_TIMEOUT.

qpid=           # the running qemu, if any
boots=0         # boots so far; each has its serial log, serial-N.log
serial=         # the current boot's serial log
step_name=setup # the step under way, for PASS/FAIL lines
step_t0=$SECONDS
summary=()

say() { printf 'system-test: %s\n' "$*"; }

step_begin() {
	step_name=$1
	step_t0=$SECONDS
	say "--- $1: $2"
}

pass() {
	local line
	line=$(printf 'PASS %-8s %4d s  %s' "$step_name" $((SECONDS - step_t0)) "$*")
	say "$line"
	summary+=("$line")
}

fail() {
	say "FAIL $step_name ($((SECONDS - step_t0)) s): $*" >&2
	failed=1
	exit 1
}

# A command that stops the script through set -e, rather than fail, is
# named at exit.
failed=0
err_at=
set -E
trap 'err_at="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR

# guest CMD...: run a shell command line in the guest as root.
guest() { "$run/guest" "$@"; }

# guest_ok WHAT CMD...: guest, failing the step with its output if it fails.
guest_ok() {
	local what=$1 out
	shift
	out=$(guest "$@" 2>&1) || fail "$what: $out"
	printf '%s\n' "$out"
}

# qemu_args RTC_BASE: the command line of one boot, in array q.
qemu_args() {
	local fwd=hostfwd=tcp:127.0.0.1:2222-:2222
	fwd+=,hostfwd=tcp:127.0.0.1:8080-:8080,hostfwd=udp:127.0.0.1:8080-:8080
	fwd+=,hostfwd=tcp:127.0.0.1:8081-:8081,hostfwd=udp:127.0.0.1:8081-:8081
	fwd+=,hostfwd=udp:127.0.0.1:1123-:123
	local console=ttyS0
	q=()
	case $ARCH in
	amd64) q=(qemu-system-x86_64 -machine pc) ;;
	arm64)
		q=(qemu-system-aarch64 -machine virt -cpu cortex-a53)
		console=ttyAMA0
		;;
	esac
	# cache=unsafe: a power cut here is a SIGKILL of qemu, which loses the
	# guest's RAM while every write qemu made to the image stays in the
	# host's page cache; flushing the image to the host's disk would only
	# cost time. A raw image has no metadata of qemu's own that a kill
	# could leave half-written (qcow2 has).
	q+=(-accel "$accel" -smp 2 -m 1024 -nodefaults -no-user-config -display none
		-serial "file:$serial" -rtc "base=$1"
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img"
		-append "root=/dev/vda ro console=$console net.ifnames=0 systemd.show_status=1"
		-drive "file=$run/disk.ext4,format=raw,if=none,id=d0,cache=unsafe,aio=threads"
		-device virtio-blk-pci,drive=d0
		-netdev "user,id=n0,ipv6=off,$fwd" -device virtio-net-pci,netdev=n0,romfile=
		-device virtio-rng-pci)
}

# boot_guest [RTC_BASE]: start qemu and wait for ssh.
boot_guest() {
	boots=$((boots + 1))
	serial=$run/serial-$boots.log
	qemu_args "${1:-utc}"
	"${q[@]}" </dev/null >"$run/qemu-$boots.log" 2>&1 &
	qpid=$!
	wait_ssh
}

# wait_ssh: until the guest answers over ssh, with a fresh boot id.
wait_ssh() {
	local deadline=$((SECONDS + BOOT_TIMEOUT)) t0=$SECONDS
	until timeout 10 "$run/guest" true 2>/dev/null; do
		kill -0 "$qpid" 2>/dev/null || fail "qemu exited during boot $boots: $(tail -n 5 "$run/qemu-$boots.log")"
		((SECONDS < deadline)) || fail "no ssh within $BOOT_TIMEOUT s of boot $boots"
		sleep 1
	done
	boot_s=$((SECONDS - t0))
}

# wait_qemu_exit SECONDS: wait for qemu to end by itself; 1 if it did not.
wait_qemu_exit() {
	local deadline=$((SECONDS + $1))
	while kill -0 "$qpid" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
	wait "$qpid" 2>/dev/null || true
	qpid=
}

# poweroff_guest: a clean shutdown; qemu ends with it.
poweroff_guest() {
	guest systemctl poweroff >/dev/null 2>&1 || true
	wait_qemu_exit 120 || fail "the guest did not power off within 120 s"
}

# cut_power: SIGKILL to qemu, the guest's power cut.
cut_power() {
	kill -KILL "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	qpid=
}

# reboot_guest: systemctl reboot in the guest; qemu stays, the guest
# resets. Waits for a new boot id over ssh.
reboot_guest() {
	local old new deadline=$((SECONDS + BOOT_TIMEOUT + 120)) t0=$SECONDS
	old=$(guest_ok "boot id" cat /proc/sys/kernel/random/boot_id)
	guest systemctl reboot >/dev/null 2>&1 || true
	boots=$((boots + 1))
	while :; do
		new=$(timeout 10 "$run/guest" cat /proc/sys/kernel/random/boot_id 2>/dev/null) || new=
		[[ -n $new && $new != "$old" ]] && break
		kill -0 "$qpid" 2>/dev/null || fail "qemu exited during the reboot"
		((SECONDS < deadline)) || fail "the guest was not back within $((BOOT_TIMEOUT + 120)) s of systemctl reboot"
		sleep 1
	done
	boot_s=$((SECONDS - t0))
}

# wait_agent: until edge-agent is active and listening on its ports.
wait_agent() {
	local deadline=$((SECONDS + 90))
	until guest 'systemctl is-active -q edge-agent &&
		ss -Hlnu "sport = :123" | grep -q . && ss -Hlnu "sport = :8080" | grep -q . &&
		ss -Hlnt "sport = :8080" | grep -q . && ss -Hlnt "sport = :8081" | grep -q . &&
		ss -Hlnt "sport = :1883" | grep -q .' 2>/dev/null; do
		((SECONDS < deadline)) || fail "edge-agent not active and listening within 90 s: $(guest systemctl status --no-pager edge-agent 2>&1 | tail -n 5)"
		sleep 1
	done
}

# diagnostics: what a failure needs to be understood.
diagnostics() {
	if [[ -n $serial && -f $serial ]]; then
		say "last 40 lines of the guest's serial console ($serial):"
		tail -n 40 "$serial" | sed 's/^/  | /'
	fi
	if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
		say "journalctl -u edge-agent in the guest (last 60 lines):"
		timeout 30 "$run/guest" journalctl -u edge-agent --no-pager -n 60 2>&1 | sed 's/^/  | /' || true
	fi
}
