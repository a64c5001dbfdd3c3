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
rule_dst=$root/etc/polkit-1/rules.d/50-edge-agent.rules
users_dst=$root/etc/sysusers.d/edge-agent.conf

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
	check_file "$users_dst" 644
	grep -q '^u edge-agent - ' "$users_dst" || fail "$users_dst does not make the user edge-agent: $(cat "$users_dst")"
	local left
	left=$(find "$root" -name '.edge-agent*' -o -name '.50-edge-agent*')
	[[ -z $left ]] || fail "temporary files left behind: $left"
}

step "fresh install"
inst_ok "$bin"
check_installed
cmp -s "$env_dst" "$env_src" || fail "$env_dst differs from $env_src"
expect_output "skipping systemctl"
[[ ! -e $rule_dst ]] || fail "a polkit rule was installed though EDGE_ACTIONS is not set"

step "second install is a no-op"
inst_ok "$bin"
check_installed
expect_output "unchanged: $bin_dst"
expect_output "unchanged: $unit_dst"
expect_output "kept existing settings"

step "a new binary takes over from the update slots"
slots=$root/var/lib/edge-agent/slots
mkdir -p "$slots" && echo a >"$slots/current"
inst_ok "$bin"
[[ -f $slots/current ]] || fail "re-installing the same binary removed $slots"
cp "$bin" "$work/bin.other" && printf '\0' >>"$work/bin.other"
inst_ok "$work/bin.other"
[[ ! -e $slots ]] || fail "installing another binary left $slots"
expect_output "removed: $slots"
inst_ok "$bin"
check_installed

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

step "the polkit rule follows EDGE_ACTIONS"
cp "$env_dst" "$work/env.before-actions"
printf 'EDGE_ACTIONS=reboot\nEDGE_ACTIONS_DIR=/etc/edge-agent/actions.d\n' >>"$env_dst"
inst_ok "$bin"
check_installed
check_file "$rule_dst" 644
expect_output "installed: $rule_dst"
grep -q '"org.freedesktop.login1.power-off-multiple-sessions"' "$rule_dst" || fail "$rule_dst lacks power-off-multiple-sessions"
if command -v node >/dev/null 2>&1; then
	# The rule run as polkit runs it, with the subjects polkit 122 (user
	# only) and 124+ (with the unit) would pass.
	node - "$rule_dst" >"$out" 2>&1 <<'JS' || {
const fs = require("fs");
let rule;
const polkit = { Result: { YES: "yes", NO: "no", NOT_HANDLED: null }, addRule(f) { rule = f; } };
new Function("polkit", fs.readFileSync(process.argv[2], "utf8"))(polkit);
const login1 = "org.freedesktop.login1.";
const cases = [
	[login1 + "reboot", { user: "edge-agent" }, "yes"],
	[login1 + "reboot-multiple-sessions", { user: "edge-agent" }, "yes"],
	[login1 + "power-off", { user: "edge-agent", system_unit: "edge-agent.service" }, "yes"],
	[login1 + "power-off-multiple-sessions", { user: "65000", system_unit: "edge-agent.service" }, "yes"],
	[login1 + "reboot", { user: "65000" }, null],
	[login1 + "reboot", { user: "pi" }, null],
	[login1 + "reboot", { user: "edge-agent", system_unit: "other.service" }, null],
	[login1 + "reboot-ignore-inhibit", { user: "edge-agent", system_unit: "edge-agent.service" }, null],
	[login1 + "halt", { user: "edge-agent" }, null],
	["org.freedesktop.systemd1.manage-units", { user: "edge-agent", system_unit: "edge-agent.service" }, null],
];
let bad = 0;
for (const [id, subject, want] of cases) {
	const got = rule({ id }, subject);
	if (got !== want) { console.log("rule(" + id + ", " + JSON.stringify(subject) + ") = " + got + ", want " + want); bad++; }
}
process.exitCode = bad ? 1 : 0;
JS
		cat "$out" >&2
		fail "the polkit rule does not decide as intended"
	}
else
	step "node not found; the rule's decisions are not checked"
fi
inst_ok "$bin"
expect_output "unchanged: $rule_dst"
printf 'EDGE_ACTIONS="script:backup, restart"\n' >>"$env_dst"
inst_ok "$bin"
[[ ! -e $rule_dst ]] || fail "the polkit rule stayed though EDGE_ACTIONS no longer allows reboot or poweroff"
expect_output "removed: $rule_dst"
printf 'EDGE_ACTIONS=" restart,poweroff"\n' >>"$env_dst"
inst_ok "$bin"
check_file "$rule_dst" 644
cp "$work/env.before-actions" "$env_dst"
inst_ok "$bin"
[[ ! -e $rule_dst ]] || fail "the polkit rule stayed after EDGE_ACTIONS was removed"
inst_ok --power-actions "$bin"
check_file "$rule_dst" 644
check_installed
inst_fails "exclude each other" --uninstall --power-actions

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
[[ ! -e $rule_dst ]] || fail "--uninstall left $rule_dst"
[[ ! -e $users_dst ]] || fail "--uninstall left $users_dst"
cmp -s "$env_dst" "$work/env.edited" || fail "--uninstall changed or removed $env_dst"
expect_output "kept settings"

step "uninstall again is harmless"
inst_ok --uninstall
expect_output "not installed: $bin_dst"

echo "install_test: ok"
