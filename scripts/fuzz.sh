#!/bin/sh
# fuzz.sh [TIME] — runs every Fuzz target of the module for TIME (10s).
#
# A fuzz run that is stopped by -fuzztime while a worker is still busy can
# end in "context deadline exceeded" without any failing input (a known
# flake of go test -fuzz). Such a run is tried up to twice more; a real failure
# always names the input it wrote under testdata/fuzz, and fails at once.
set -eu
t=${1:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1" >"$log" 2>&1
}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($t)"
		if run "$pkg" "$target"; then
			continue
		fi
		ok=no
		for _ in 1 2; do
			if ! grep -q 'context deadline exceeded' "$log" || grep -q 'Failing input' "$log"; then
				break
			fi
			echo "fuzz: $target stopped with a bare deadline error; running it again"
			if run "$pkg" "$target"; then
				ok=yes
				break
			fi
		done
		[ "$ok" = yes ] && continue
		cat "$log"
		exit 1
	done
done
