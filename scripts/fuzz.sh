#!/usr/bin/env bash
# Runs every fuzz target of the module for a budget and prints, per target,
# the executions it made: `make fuzz` (FUZZTIME=1000000x by default: a
# million executions each; a duration such as 60s works too). FUZZCAP, if
# set (a duration for timeout(1), such as 5m), stops a target that has not
# spent its budget by then, as Ctrl-C would: the target is reported
# "ok-capped" with the executions it made, unless it wrote a failing
# input. A target that
# fails leaves its failing input under its package's testdata/fuzz/FuzzX/,
# where `go test` replays it from then on: commit it with the fix, and it
# is a regression test. The table goes to stdout (and to $FUZZ_REPORT if
# set); the exit status is 1 if any target failed.
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-1000000x}
FUZZCAP=${FUZZCAP:-}
PKGS=${PKGS:-./...}
report=${FUZZ_REPORT:-/dev/null}
failed=0
printf '%-42s %-32s %12s %10s %s\n' package target execs per_s result | tee "$report"
for pkg in $($GO list "$PKGS"); do
	for f in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		dir=$($GO list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$f
		before=$(ls "$dir" 2>/dev/null | wc -l)
		start=$(date +%s)
		if [ -n "$FUZZCAP" ]; then
			out=$(timeout -s INT -k 30s "$FUZZCAP" $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1)
		else
			out=$($GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1)
		fi
		rc=$?
		after=$(ls "$dir" 2>/dev/null | wc -l)
		secs=$(($(date +%s) - start))
		# go test prints "fuzz: elapsed: Ns, execs: N (N/sec), ..." lines;
		# the last one has the total.
		execs=$(printf '%s\n' "$out" | grep -o 'execs: [0-9]*' | tail -1 | awk '{print $2}')
		# the highest rate reported (the last line may be a partial second)
		rate=$(printf '%s\n' "$out" | grep -o '([0-9]*/sec)' | tr -d '(/sec)' | sort -n | tail -1)
		result=ok
		if [ $rc -ne 0 ] && [ "$after" -eq "$before" ] &&
			printf '%s\n' "$out" | grep -q '^    context deadline exceeded$'; then
			# Go 1.26's fuzzing coordinator can report its own -fuzztime
			# deadline as a failure when a worker is mid-input (Go issue
			# 75804, fixed in Go 1.27) and writes no failing input: not a
			# finding. A count budget (1000000x) has no such deadline.
			result=ok-deadline
			rc=0
		fi
		if [ $rc -eq 124 ] && [ "$after" -eq "$before" ]; then
			# stopped at FUZZCAP before its budget, nothing found
			result=ok-capped
			rc=0
		fi
		if [ $rc -ne 0 ]; then
			result=FAILED
			failed=1
			printf '%s\n' "$out" >&2
		fi
		printf '%-42s %-32s %12s %10s %s (%ss)\n' "${pkg#github.com/fog-compute/fog/}" "$f" "${execs:-?}" "${rate:-?}" "$result" "$secs" | tee -a "$report"
	done
done
exit $failed
