#!/usr/bin/env bash
# Checks that `make unit` works on a machine with Go but no C compiler: it
# must say that it runs the tests without -race (which needs cgo) and pass,
# where it used to fail with "go: -race requires cgo". It hides the C
# compiler by running make with a PATH that holds only go and the few
# tools the Makefile calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for t in make sh bash git gofmt; do
	ln -s "$(command -v "$t")" "$bin/$t"
done
goroot=$(dirname "$(readlink -f "$(command -v go)")")
out=$(env -u CC -u CGO_ENABLED PATH="$goroot:$bin" make unit PKGS=./internal/binenc/... 2>&1) || {
	echo "FAIL: make unit without a C compiler failed:"; echo "$out"; exit 1
}
grep -q "WITHOUT -race" <<<"$out" || { echo "FAIL: make unit did not say it ran without -race:"; echo "$out"; exit 1; }
echo "ok: make unit without a C compiler runs the tests without -race and says so"
