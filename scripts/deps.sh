#!/bin/sh
# deps.sh WHAT:PACKAGE ... — make sure each WHAT exists, installing the
# Debian package that provides it when missing. WHAT is a command name or an
# absolute path (for a Python module or a data file). Root installs; anyone
# else gets the exact apt-get line and a failure.
set -eu
missing=""
for pair in "$@"; do
	what=${pair%%:*}
	pkg=${pair#*:}
	case $what in
	/*) [ -e "$what" ] || missing="$missing $pkg" ;;
	*) command -v "$what" >/dev/null 2>&1 || [ -x "/usr/bin/$what" ] || [ -x "/usr/sbin/$what" ] || missing="$missing $pkg" ;;
	esac
done
[ -z "$missing" ] && exit 0
line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root:  apt-get update && $line" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
