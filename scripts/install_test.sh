#!/usr/bin/env bash
# Self-test of scripts/install.sh. Everything is installed below a scratch
# ROOT, so the running system is never touched and systemctl is never run.
#
# Usage: scripts/install_test.sh [BINARY]
#   BINARY is an edge-agent build for this machine (default: dist/edge-agent);
#   it must answer "BINARY version". Nothing is built here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
install_sh=$here/install.sh
unit_src=$here/edge-agent.service
env_src=$here/edge-agent.env

fail() {
	printf 'install_test: FAIL: %s\n' "$*" >&2
	exit 1
}
step() { printf 'install_test: %s\n' "$*"; }

bin=${1:-dist/edge-agent}
if [[ $# -eq 0 && ! -e $bin ]]; then
	bin=$here/../dist/edge-agent
fi
[[ -f $bin ]] || fail "binary not found: ${1:-dist/edge-agent} (build it first, or pass its path)"
[[ -x $bin ]] || fail "binary not executable: $bin"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
"$bin" version >/dev/null 2>&1 || fail "$bin version failed; it must be a binary for this machine"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
out=$work/out

bin_dst=$root/usr/local/bin/edge-agent
unit_dst=$root/etc/systemd/system/edge-agent.service
env_dst=$root/etc/default/edge-agent

# inst [ARGS...]: run install.sh below $test_root (default $root), output in
# $out. ROOT from the caller's environment is never used.
inst() {
	ROOT=${test_root:-$root} sh "$install_sh" "$@" >"$out" 2>&1
}
# inst_ok ARGS...: inst, which must succeed.
inst_ok() {
	inst "$@" || {
		cat "$out" >&2
		fail "install.sh $* failed"
	}
}
# inst_fails WHAT ARGS...: inst, which must fail with a message matching WHAT.
inst_fails() {
	local what=$1
	shift
	if inst "$@"; then
		cat "$out" >&2
		fail "install.sh $* succeeded, expected a failure"
	fi
	grep -q -- "$what" "$out" || {
		cat "$out" >&2
		fail "install.sh $*: expected a message matching '$what'"
	}
}
expect_output() {
	grep -q -- "$1" "$out" || {
		cat "$out" >&2
		fail "expected install.sh output to contain '$1'"
	}
}
check_file() { # FILE MODE [SAME-AS]
	[[ -f $1 ]] || fail "missing $1"
	local mode
	mode=$(stat -c %a "$1")
	[[ $mode == "$2" ]] || fail "$1 has mode $mode, want $2"
	if [[ $# -ge 3 ]]; then
		cmp -s "$1" "$3" || fail "$1 differs from $3"
	fi
}
check_installed() {
	check_file "$bin_dst" 755 "$bin"
	check_file "$unit_dst" 644 "$unit_src"
	check_file "$env_dst" 644
	local left
	left=$(find "$root" -name '.edge-agent*')
	[[ -z $left ]] || fail "temporary files left behind: $left"
}

step "fresh install"
inst_ok "$bin"
check_installed
cmp -s "$env_dst" "$env_src" || fail "$env_dst differs from $env_src"
expect_output "skipping systemctl"

step "second install is a no-op"
inst_ok "$bin"
check_installed
expect_output "unchanged: $bin_dst"
expect_output "unchanged: $unit_dst"
expect_output "kept existing settings"

step "edited settings survive a re-install"
echo 'EDGE_LOG_LEVEL=debug' >>"$env_dst"
cp "$env_dst" "$work/env.edited"
inst_ok "$bin"
check_installed
cmp -s "$env_dst" "$work/env.edited" || fail "re-install changed $env_dst"

step "wrong modes are repaired"
chmod 0600 "$unit_dst"
chmod 0700 "$bin_dst"
inst_ok "$bin"
check_installed

step "--restart without systemd is skipped, not an error"
inst_ok --restart "$bin"
expect_output "skipping restart"

step "a binary that does not run is refused and the installed one kept"
printf '#!/bin/sh\necho "cannot execute binary file" >&2\nexit 126\n' >"$work/broken"
chmod +x "$work/broken"
inst_fails "does not run on this machine" "$work/broken"
check_installed

step "bad arguments are refused"
inst_fails "binary not found" "$work/no-such-binary"
inst_fails "unknown option" --bogus
inst_fails "more than one BINARY" "$bin" "$bin"
inst_fails "takes no BINARY" --uninstall "$bin"
test_root=$work/no-such-dir inst_fails "not a directory" "$bin"

step "install from a copied bundle (as deploy.sh does), default BINARY"
mkdir "$work/bundle" "$work/root2"
cp "$install_sh" "$unit_src" "$env_src" "$work/bundle/"
cp "$bin" "$work/bundle/edge-agent"
(cd / && ROOT=$work/root2 sh "$work/bundle/install.sh" >"$out" 2>&1) || {
	cat "$out" >&2
	fail "install from bundle failed"
}
check_file "$work/root2/usr/local/bin/edge-agent" 755 "$bin"
check_file "$work/root2/etc/systemd/system/edge-agent.service" 644 "$unit_src"
check_file "$work/root2/etc/default/edge-agent" 644 "$env_src"

if command -v systemd-analyze >/dev/null 2>&1; then
	step "systemd-analyze verify"
	# Point ExecStart at the installed binary, so verify can check it exists.
	mkdir "$work/verify"
	unit=$work/verify/edge-agent.service
	sed "s|^ExecStart=/usr/local/bin/edge-agent |ExecStart=$bin_dst |" "$unit_dst" >"$unit"
	grep -q "^ExecStart=$bin_dst " "$unit" || fail "no ExecStart=/usr/local/bin/edge-agent line in $unit_dst"
	rc=0
	systemd-analyze verify "$unit" >"$work/verify.out" 2>&1 || rc=$?
	# Lines naming the unit file are parse problems (unknown keys, bad values).
	if [[ $rc -ne 0 ]] || grep -q -e "^$unit:" -e 'Unknown' -e 'Failed to parse' "$work/verify.out"; then
		cat "$work/verify.out" >&2
		fail "systemd-analyze verify found problems in edge-agent.service (exit $rc)"
	fi
	if [[ -s $work/verify.out ]]; then
		sed 's/^/  verify: /' "$work/verify.out"
	fi
else
	step "systemd-analyze not found; skipping unit verification"
fi

step "uninstall"
inst_ok --uninstall
[[ ! -e $bin_dst ]] || fail "--uninstall left $bin_dst"
[[ ! -e $unit_dst ]] || fail "--uninstall left $unit_dst"
cmp -s "$env_dst" "$work/env.edited" || fail "--uninstall changed or removed $env_dst"
expect_output "kept settings"

step "uninstall again is harmless"
inst_ok --uninstall
expect_output "not installed: $bin_dst"

echo "install_test: ok"
