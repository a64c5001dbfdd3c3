#!/bin/sh
# Install, upgrade or remove edge-agent on this device. Run as root.
# See usage() below, or run: sh install.sh --help
set -eu

prog=install.sh

usage() {
	cat <<'EOF'
Usage: sh install.sh [--restart] [--power-actions] [BINARY]
       sh install.sh --uninstall

Installs edge-agent on this device (as root):
  BINARY                 -> /usr/local/bin/edge-agent
  edge-agent.service     -> /etc/systemd/system/edge-agent.service
  edge-agent.env         -> /etc/default/edge-agent  (only if it does not exist)
  the user edge-agent    -> /etc/sysusers.d/edge-agent.conf, made by systemd-sysusers
  a polkit rule          -> /etc/polkit-1/rules.d/50-edge-agent.rules
                            (only if EDGE_ACTIONS in /etc/default/edge-agent
                            allows reboot or poweroff, or --power-actions)
then runs "systemctl daemon-reload" and "systemctl enable edge-agent".
Safe to run again: that is how an upgrade is done, and how the polkit rule
follows a change of EDGE_ACTIONS.

BINARY defaults to "edge-agent" next to this script, else ./dist/edge-agent.
edge-agent.service and edge-agent.env must be next to this script.

Options:
  --restart     also (re)start the service, so the new binary takes over
  --power-actions
                install the polkit rule that lets the service reboot and
                power off the device through systemd-logind, whatever
                EDGE_ACTIONS says
  --uninstall   stop and disable the service, remove the binary, the unit
                and the polkit rule; keep /etc/default/edge-agent and the
                state in /var/lib
  -h, --help    show this help

Environment:
  ROOT          install below this directory instead of / (for tests and
                image builds); systemctl is never run when ROOT is set
EOF
}

say() { printf '%s: %s\n' "$prog" "$*"; }
die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}

# The temporary file being staged, removed if we stop before renaming it.
tmp=
cleanup() { if [ -n "$tmp" ]; then rm -f "$tmp"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

restart=0
uninstall=0
power=0
bin=
while [ $# -gt 0 ]; do
	case $1 in
	--restart) restart=1 ;;
	--power-actions) power=1 ;;
	--uninstall) uninstall=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		break
		;;
	-*) die "unknown option: $1 (see --help)" ;;
	*)
		[ -z "$bin" ] || die "more than one BINARY given: $bin $1"
		bin=$1
		;;
	esac
	shift
done
if [ $# -gt 0 ]; then
	if [ -n "$bin" ] || [ $# -gt 1 ]; then
		die "more than one BINARY given"
	fi
	bin=$1
fi
if [ "$uninstall" = 1 ]; then
	[ -z "$bin" ] || die "--uninstall takes no BINARY"
	[ "$restart" = 0 ] || die "--uninstall and --restart exclude each other"
	[ "$power" = 0 ] || die "--uninstall and --power-actions exclude each other"
fi

ROOT=${ROOT:-}
while [ "${ROOT%/}" != "$ROOT" ]; do ROOT=${ROOT%/}; done
if [ -n "$ROOT" ]; then
	[ -d "$ROOT" ] || die "ROOT=$ROOT is not a directory"
elif [ "$(id -u)" -ne 0 ]; then
	die "must be run as root (try: sudo sh $0 ...)"
fi

umask 022

here=$(cd "$(dirname "$0")" && pwd)
unit_src=$here/edge-agent.service
env_src=$here/edge-agent.env

bin_dst=$ROOT/usr/local/bin/edge-agent
unit_dst=$ROOT/etc/systemd/system/edge-agent.service
env_dst=$ROOT/etc/default/edge-agent
rule_dst=$ROOT/etc/polkit-1/rules.d/50-edge-agent.rules
users_dst=$ROOT/etc/sysusers.d/edge-agent.conf

# Talk to systemd only on a live system that runs it; a container or chroot
# may have systemctl installed without systemd as PID 1.
systemd=0
if [ -n "$ROOT" ]; then
	no_systemd="ROOT is set"
elif ! command -v systemctl >/dev/null 2>&1; then
	no_systemd="systemctl not found"
elif [ ! -d /run/systemd/system ]; then
	no_systemd="systemd is not running (container or chroot?)"
else
	systemd=1
	no_systemd=
fi

# stage SRC DST MODE: copy SRC to a temporary name in DST's directory, so the
# final rename is atomic and a half-written file is never in place.
stage() {
	mkdir -p "$(dirname "$2")" || die "cannot create directory $(dirname "$2")"
	tmp=$(mktemp "$(dirname "$2")/.$(basename "$2").XXXXXX") ||
		die "cannot create a temporary file next to $2"
	cp "$1" "$tmp" || die "cannot copy $1 to $tmp"
	chmod "$3" "$tmp" || die "cannot set mode $3 on $tmp"
}

# commit DST MODE: put the staged file in place, unless DST already has the
# same content (then only its mode is fixed). Prints what happened.
commit() {
	if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
		tmp=
		chmod "$2" "$1" || die "cannot set mode $2 on $1"
		say "unchanged: $1"
		return 0
	fi
	mv -f "$tmp" "$1" || die "cannot rename $tmp to $1"
	tmp=
	say "installed: $1"
	changed=1
}

if [ "$uninstall" = 1 ]; then
	if [ "$systemd" = 1 ]; then
		if [ -f "$unit_dst" ]; then
			systemctl disable --now edge-agent ||
				die "could not stop and disable edge-agent; nothing removed"
		fi
	else
		say "skipping systemctl: $no_systemd"
	fi
	for f in "$bin_dst" "$unit_dst" "$rule_dst" "$users_dst"; do
		if [ -e "$f" ]; then
			rm -f "$f" || die "cannot remove $f"
			say "removed: $f"
		else
			say "not installed: $f"
		fi
	done
	if [ "$systemd" = 1 ]; then
		systemctl daemon-reload || die "systemctl daemon-reload failed"
	fi
	say "kept settings $env_dst, state $ROOT/var/lib/edge-agent and the user edge-agent;" \
		"remove them by hand to purge (userdel edge-agent)"
	exit 0
fi

if [ -z "$bin" ]; then
	if [ -f "$here/edge-agent" ]; then
		bin=$here/edge-agent
	elif [ -f ./dist/edge-agent ]; then
		bin=./dist/edge-agent
	else
		die "no BINARY given, and neither $here/edge-agent nor ./dist/edge-agent exists"
	fi
fi
[ -f "$bin" ] || die "binary not found: $bin"
[ -r "$bin" ] || die "binary not readable: $bin"
for f in "$unit_src" "$env_src"; do
	[ -f "$f" ] || die "missing $f (edge-agent.service and edge-agent.env must be next to install.sh)"
done

changed=0

# The staged copy is validated rather than $bin itself: it has the exec bit
# even if $bin lost it in transfer, and it does not depend on $bin's
# filesystem allowing execution (e.g. a noexec /tmp).
stage "$bin" "$bin_dst" 0755
if ! version=$("$tmp" version 2>&1); then
	die "$bin does not run on this machine (wrong architecture or not edge-agent?):
$(printf '%s\n' "$version" | head -n 5)"
fi
say "binary $bin: $(printf '%s\n' "$version" | head -n 1)"
commit "$bin_dst" 0755
# A binary installed by hand takes over from signed updates: the launcher
# would otherwise go on starting the binary of the update slots. The next
# start makes new slots from it (with EDGE_UPDATE=on).
slots=$ROOT/var/lib/edge-agent/slots
if [ "$changed" = 1 ] && [ -d "$slots" ]; then
	rm -rf "$slots" || die "cannot remove $slots"
	say "removed: $slots (the update slots; this binary runs from now on)"
fi

stage "$unit_src" "$unit_dst" 0644
commit "$unit_dst" 0644

# The service's system user: systemd-sysusers makes it from this file now
# and, should it be missing (an image built with ROOT), at the next boot.
mkdir -p "$(dirname "$users_dst")" || die "cannot create directory $(dirname "$users_dst")"
tmp=$(mktemp "$(dirname "$users_dst")/.$(basename "$users_dst").XXXXXX") ||
	die "cannot create a temporary file next to $users_dst"
printf '%s\n' '# The edge-agent service runs as this user (install.sh).' \
	'u edge-agent - "edge-agent device services" /nonexistent /usr/sbin/nologin' >"$tmp" ||
	die "cannot write $tmp"
chmod 0644 "$tmp" || die "cannot set mode 0644 on $tmp"
commit "$users_dst" 0644
if [ "$systemd" = 1 ]; then
	systemd-sysusers "$users_dst" || die "systemd-sysusers could not create the user edge-agent from $users_dst"
fi

if [ -e "$env_dst" ]; then
	say "kept existing settings: $env_dst"
else
	stage "$env_src" "$env_dst" 0644
	commit "$env_dst" 0644
fi

# power_allowed: whether the settings allow the reboot or poweroff action
# (the last EDGE_ACTIONS line wins, as in systemd's EnvironmentFile=).
power_allowed() {
	[ -f "$env_dst" ] || return 1
	actions=$(sed -n 's/^[[:space:]]*EDGE_ACTIONS[[:space:]]*=//p' "$env_dst" | tail -n 1 | tr -d " \t\"'\r")
	case ",$actions," in
	*,reboot,* | *,poweroff,*) return 0 ;;
	esac
	return 1
}

# polkit_rule: lets the edge-agent service, and nothing else, ask
# systemd-logind to reboot or power off. polkit 124 and later name the
# caller's systemd unit (subject.system_unit), which only root can create;
# older ones (Debian 12 has 122) give its user, edge-agent.
polkit_rule() {
	cat <<'RULE'
// Written by edge-agent's install.sh, removed by install.sh --uninstall.
// Lets the edge-agent service reboot and power off this machine through
// systemd-logind (its reboot and poweroff actions), and nothing else.
polkit.addRule(function(action, subject) {
    var allowed = ["org.freedesktop.login1.reboot",
                   "org.freedesktop.login1.reboot-multiple-sessions",
                   "org.freedesktop.login1.power-off",
                   "org.freedesktop.login1.power-off-multiple-sessions"];
    if (allowed.indexOf(action.id) < 0) {
        return polkit.Result.NOT_HANDLED;
    }
    // polkit 124 and later: the caller's systemd unit.
    if (subject.system_unit) {
        return subject.system_unit == "edge-agent.service" ? polkit.Result.YES : polkit.Result.NOT_HANDLED;
    }
    // Older polkit: the unit's user.
    if (subject.user == "edge-agent") {
        return polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
});
RULE
}

if [ "$power" = 1 ] || power_allowed; then
	mkdir -p "$(dirname "$rule_dst")" || die "cannot create directory $(dirname "$rule_dst")"
	tmp=$(mktemp "$(dirname "$rule_dst")/.$(basename "$rule_dst").XXXXXX") ||
		die "cannot create a temporary file next to $rule_dst"
	polkit_rule >"$tmp" || die "cannot write $tmp"
	chmod 0644 "$tmp" || die "cannot set mode 0644 on $tmp"
	# polkit reads a changed rule by itself: no restart for this one.
	was=$changed
	commit "$rule_dst" 0644
	changed=$was
	if [ -z "$ROOT" ]; then
		if ! command -v pkaction >/dev/null 2>&1; then
			say "warning: polkit is not installed; reboot and poweroff need it: apt-get install polkitd"
		fi
	fi
elif [ -e "$rule_dst" ]; then
	rm -f "$rule_dst" || die "cannot remove $rule_dst"
	say "removed: $rule_dst (EDGE_ACTIONS in $env_dst allows neither reboot nor poweroff)"
fi

if [ "$systemd" = 0 ]; then
	say "skipping systemctl daemon-reload/enable: $no_systemd"
	if [ "$restart" = 1 ]; then
		say "skipping restart: $no_systemd"
	fi
	exit 0
fi

systemctl daemon-reload || die "systemctl daemon-reload failed"
systemctl enable edge-agent || die "systemctl enable edge-agent failed"

if [ "$restart" = 1 ]; then
	systemctl restart edge-agent ||
		die "edge-agent failed to start; see: journalctl -u edge-agent"
	say "edge-agent (re)started"
elif systemctl is-active --quiet edge-agent; then
	if [ "$changed" = 1 ]; then
		say "edge-agent is still running the old version; apply with: systemctl restart edge-agent"
	fi
else
	say "edge-agent is enabled but not running; start it with: systemctl start edge-agent"
fi
