#!/usr/bin/env bash
# race-test.sh FLAGS... -- PACKAGES...
#
# Runs `go test -race FLAGS PACKAGES`. Go 1.26's race runtime can die with
# testing/synctest of its own faults: its internal check ("ThreadSanitizer:
# CHECK failed", Go issue 78156), or a SIGSEGV inside the runtime's timer
# code (runtime.(*timer).maybeRunChan) on a bubble's goroutine: that is not
# a verdict on fog's code. A package that failed that way,
# and only that way, is run again (at most twice) and the result of the rerun
# counts; any other failure fails at once, as it would without this script.
set -u
GO=${GO:-go}
flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run PACKAGES...: go test -race, its output shown and kept in $log.
run() {
	echo "$GO test -race ${flags[*]} $*"
	"$GO" test -race "${flags[@]}" "$@" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# tsan_only: the packages that failed in $log, one a line, when every one of
# them failed of the race detector's internal check; nothing otherwise.
# go test prints each package's output as one block ending in its summary
# line ("ok", "FAIL" or "?", a tab, the package).
tsan_only() {
	awk -F'\t' '
		/ThreadSanitizer: CHECK failed/ { tsan = 1 }
		/^SIGSEGV: segmentation violation/ { segv = 1 }
		segv && /^runtime\.\(\*timer\)\.maybeRunChan\(/ { tsan = 1 }
		$1 ~ /^(ok|FAIL|\?) *$/ && NF >= 2 {
			if ($1 == "FAIL") { if (tsan) crashed[++n] = $2; else other = 1 }
			tsan = 0; segv = 0
		}
		END { if (!other) for (i = 1; i <= n; i++) print crashed[i] }
	' "$log"
}

run "${pkgs[@]}" && exit 0
rc=$?
for attempt in 1 2; do
	mapfile -t again < <(tsan_only)
	[ ${#again[@]} -gt 0 ] || exit "$rc"
	echo "make: the race runtime itself crashed in ${again[*]} (ThreadSanitizer CHECK or a SIGSEGV in its timer code, Go issue 78156): running again ($attempt of 2)"
	run "${again[@]}" && exit 0
	rc=$?
done
exit "$rc"
