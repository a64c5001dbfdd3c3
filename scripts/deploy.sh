#!/usr/bin/env bash
# Deploy the cross-built edge-agent to a device over ssh and (re)start it.
# See usage() below, or run: scripts/deploy.sh --help
set -euo pipefail

prog=deploy.sh

usage() {
	cat <<'EOF'
Usage: scripts/deploy.sh [--dry-run] [--arch ARCH] HOST

Copies dist/edge-agent-linux-<arch> (built by "make cross") and the install
files to HOST, installs them with "sudo sh install.sh --restart", shows the
service status and removes the copies again. The device's architecture is
read with "uname -m" unless --arch is given.

HOST is anything ssh accepts: host, user@host, or an alias from ~/.ssh/config.
The remote user needs sudo (it may ask for a password).

Options:
  --dry-run     print the commands instead of running them (only the
                read-only "uname -m" is run, unless --arch is given)
  --arch ARCH   skip detection: armv6, armv7, arm64 or amd64
  -h, --help    show this help

Environment:
  SSH   ssh command with options (default: ssh), e.g. SSH="ssh -p 2222"
  SCP   scp command with options (default: scp), e.g. SCP="scp -P 2222"
EOF
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}
say() { printf '%s: %s\n' "$prog" "$*"; }

dry_run=0
arch=
host=
while [[ $# -gt 0 ]]; do
	case $1 in
	--dry-run) dry_run=1 ;;
	--arch)
		[[ $# -ge 2 ]] || die "--arch needs a value"
		arch=$2
		shift
		;;
	--arch=*) arch=${1#--arch=} ;;
	-h | --help)
		usage
		exit 0
		;;
	-*) die "unknown option: $1 (see --help)" ;;
	*)
		[[ -z $host ]] || die "more than one HOST given: $host $1"
		host=$1
		;;
	esac
	shift
done
[[ -n $host ]] || {
	usage >&2
	exit 2
}

read -r -a ssh <<<"${SSH:-ssh}"
read -r -a scp <<<"${SCP:-scp}"
[[ ${#ssh[@]} -gt 0 ]] || die "SSH is empty"
[[ ${#scp[@]} -gt 0 ]] || die "SCP is empty"

# Paths below are relative to the repository root, wherever this is run from.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# show CMD...: print the command as it could be typed into a shell.
show() {
	local a out='+'
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:@=+,%-]+$ ]]; then
			out+=" $a"
		else
			out+=" '${a//\'/\'\\\'\'}'"
		fi
	done
	printf '%s\n' "$out"
}

# run CMD...: show the command; execute it unless --dry-run.
run() {
	show "$@"
	if [[ $dry_run == 0 ]]; then
		"$@"
	fi
}

# Map "uname -m" to the suffix "make cross" uses.
arch_of() {
	case $1 in
	armv6l) echo armv6 ;;
	armv7l | armv8l) echo armv7 ;; # armv8l: 32-bit userland on a 64-bit CPU
	aarch64 | arm64) echo arm64 ;;
	x86_64) echo amd64 ;;
	*) return 1 ;;
	esac
}

if [[ -z $arch ]]; then
	say "detecting the architecture of $host"
	show "${ssh[@]}" "$host" uname -m
	machine=$("${ssh[@]}" "$host" uname -m) || die "cannot run 'uname -m' on $host over ssh"
	machine=${machine//[[:space:]]/}
	arch=$(arch_of "$machine") ||
		die "$host has machine type '$machine', for which there is no build" \
			"(supported: armv6l, armv7l, armv8l, aarch64, x86_64)"
	say "$host is $machine -> $arch"
else
	case $arch in
	armv6 | armv7 | arm64 | amd64) ;;
	*) die "unknown --arch '$arch' (use armv6, armv7, arm64 or amd64)" ;;
	esac
fi

bin=dist/edge-agent-linux-$arch
[[ -f $bin ]] || die "$bin not found; build it first with: make cross"
for f in scripts/install.sh scripts/edge-agent.service scripts/edge-agent.env; do
	[[ -f $f ]] || die "$f not found (run this from an edge-agent checkout)"
done

# Remote temporary directory; removed on exit, whatever happens after it
# was made.
rtmp=
cleanup() {
	if [[ -n $rtmp ]]; then
		run "${ssh[@]}" "$host" rm -rf -- "$rtmp" ||
			say "warning: could not remove $rtmp on $host"
	fi
}
trap cleanup EXIT

show "${ssh[@]}" "$host" mktemp -d
if [[ $dry_run == 1 ]]; then
	rtmp=/tmp/tmp.XXXXXXXXXX
else
	out=$("${ssh[@]}" "$host" mktemp -d) ||
		die "cannot create a temporary directory on $host"
	out=${out//[[:space:]]/}
	# The path is pasted into a remote shell command below.
	[[ $out =~ ^/[A-Za-z0-9._/-]+$ ]] ||
		die "unexpected temporary directory name from $host: '$out'"
	rtmp=$out
	say "using $host:$rtmp"
fi

run "${scp[@]}" -q "$bin" "$host:$rtmp/edge-agent" ||
	die "copying $bin to $host failed"
run "${scp[@]}" -q scripts/install.sh scripts/edge-agent.service scripts/edge-agent.env "$host:$rtmp/" ||
	die "copying the install files to $host failed"

# A terminal lets sudo ask for a password; without one (CI), sudo must not
# need it.
tty=()
if [[ -t 0 ]]; then tty=(-t); fi
run "${ssh[@]}" "${tty[@]}" "$host" "cd $rtmp && sudo sh install.sh --restart ./edge-agent" ||
	die "install on $host failed (see the messages above)"

# Give a service that dies at once (e.g. invalid configuration, exit 78) time
# to show up as failed.
run sleep 2
status=0
run "${ssh[@]}" "$host" systemctl status --no-pager edge-agent || status=$?

cleanup
rtmp=

if [[ $dry_run == 1 ]]; then
	say "dry run: nothing was changed on $host"
elif [[ $status -ne 0 ]]; then
	die "edge-agent is not running on $host; see: journalctl -u edge-agent"
else
	say "deployed $bin to $host"
fi
