#!/bin/sh
# splice.sh FILE BEGIN END CONTENT — replaces the lines between the marker
# lines BEGIN and END in FILE with the file CONTENT.
set -eu
awk -v b="$2" -v e="$3" -v f="$4" '
	$0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
	$0 == e { skip = 0 }
	!skip' "$1" > "$1.tmp"
mv "$1.tmp" "$1"
