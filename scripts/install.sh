#!/bin/sh
# Install, upgrade or remove edge-agent on this device. Run as root.
# See usage() below, or run: sh install.sh --help
set -eu

prog=install.sh

usage() {
	cat <<'EOF'
Usage: sh install.sh [--restart] [BINARY]
       sh install.sh --uninstall

Installs edge-agent on this device (as root):
  BINARY                 -> /usr/local/bin/edge-agent
  edge-agent.service     -> /etc/systemd/system/edge-agent.service
  edge-agent.env         -> /etc/default/edge-agent  (only if it does not exist)
then runs "systemctl daemon-reload" and "systemctl enable edge-agent".
Safe to run again: that is how an upgrade is done.

BINARY defaults to "edge-agent" next to this script, else ./dist/edge-agent.
edge-agent.service and edge-agent.env must be next to this script.

Options:
  --restart     also (re)start the service, so the new binary takes over
  --uninstall   stop and disable the service, remove the binary and the unit;
                keep /etc/default/edge-agent and the state in /var/lib
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
bin=
while [ $# -gt 0 ]; do
	case $1 in
	--restart) restart=1 ;;
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
	for f in "$bin_dst" "$unit_dst"; do
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
	say "kept settings $env_dst and state $ROOT/var/lib/edge-agent" \
		"(with DynamicUser the data is in $ROOT/var/lib/private/edge-agent);" \
		"remove them by hand to purge"
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

stage "$unit_src" "$unit_dst" 0644
commit "$unit_dst" 0644

if [ -e "$env_dst" ]; then
	say "kept existing settings: $env_dst"
else
	stage "$env_src" "$env_dst" 0644
	commit "$env_dst" 0644
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
