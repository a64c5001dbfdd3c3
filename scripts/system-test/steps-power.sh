# shellcheck shell=bash
# Sourced by scripts/system-test.sh: power cuts. qemu is killed with
# SIGKILL at a random moment while three clients upload (new files and
# replacements, each with sha256 and ack); the guest's RAM, its page cache
# with it, is lost, and what qemu had written to the image stays. After
# each boot the received directory is compared with what the clients were
# told (scripts/systemtest: ledger.go).

# listing: sha256sum of every file in the received directory, dot files
# (the receiver's temporary ones) included.
listing() {
	guest "cd $received && find . -maxdepth 1 -type f -print0 | xargs -0 -r sha256sum" >"$run/listing.txt" ||
		fail "listing the received directory"
}

# boot_report: how the root file system came through the boot, one word
# (clean, recovered, repaired) with the fsck lines in $run/fsck-N.log.
boot_report() {
	guest "cat /run/initramfs/fsck.log 2>/dev/null; journalctl -b -q --no-pager -o cat -u systemd-fsck-root; dmesg | grep -E 'EXT4-fs|recovery'" \
		>"$run/fsck-$boots.log" 2>&1 || true
	if grep -Eiq 'EXT4-fs error|UNEXPECTED INCONSISTENCY|run fsck MANUALLY' "$run/fsck-$boots.log"; then
		cat "$run/fsck-$boots.log" >&2
		fail "file system errors after cut $cut"
	fi
	if grep -Eq 'FILE SYSTEM WAS MODIFIED|FIXED|CLEARED' "$run/fsck-$boots.log"; then
		echo repaired
	elif grep -Eiq 'recovering journal|recovery complete' "$run/fsck-$boots.log"; then
		echo recovered
	else
		echo clean
	fi
}

step_power() {
	step_begin power "$POWER_CUTS power cuts (SIGKILL of qemu) while 3 clients upload"
	local ledger=$run/ledger.json
	wait_agent
	# What earlier steps left is the ledger's starting point.
	listing
	"$driver" check -baseline -ledger "$ledger" <"$run/listing.txt" >/dev/null || fail "baseline listing"
	local clean=0 recovered=0 repaired=0 boot_total=0 delays=()
	for ((cut = 1; cut <= POWER_CUTS; cut++)); do
		"$driver" upload -addr 127.0.0.1:8080 -cycle "$cut" -ledger "$ledger" >"$run/upload-$cut.log" 2>&1 &
		upload_pid=$!
		local ms=$((1000 + RANDOM % 5000))
		delays+=("$ms")
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		cut_power
		kill -TERM "$upload_pid" 2>/dev/null || true
		wait "$upload_pid" || fail "uploader: $(cat "$run/upload-$cut.log")"
		upload_pid=
		boot_guest
		boot_total=$((boot_total + boot_s))
		case $(boot_report) in
		clean) clean=$((clean + 1)) ;;
		recovered) recovered=$((recovered + 1)) ;;
		repaired) repaired=$((repaired + 1)) ;;
		esac
		wait_agent
		listing
		"$driver" check -ledger "$ledger" <"$run/listing.txt" >"$run/check-$cut.log" 2>&1 || {
			cat "$run/check-$cut.log" >&2
			fail "after cut $cut ($ms ms into the uploads)"
		}
		say "cut $cut at $ms ms: $(tail -n 1 "$run/upload-$cut.log"); after the boot: $(head -n 1 "$run/check-$cut.log")"
	done
	poweroff_guest
	local fsck
	fsck=$(e2fsck -fn "$run/disk.ext4" 2>&1) || fail "e2fsck -fn of the image after the last clean power-off: $fsck"
	local totals
	totals=$("$driver" totals -ledger "$ledger") || fail "$totals"
	# The next steps, if any, want the guest up.
	boot_guest
	pass "$totals; boots after a cut: $clean clean, $recovered journal recovered, $repaired repaired by fsck, $((boot_total / POWER_CUTS)) s to ssh on average; e2fsck -fn clean at the end"
}
