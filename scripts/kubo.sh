#!/bin/sh
# Builds kubo's `ipfs` command into bin/ipfs (ignored by git) for cmd/fog's
# interoperability test (TestKuboInterop). Never changes fog's go.mod: kubo
# is built in module mode as its own main module.
#
# `go install github.com/ipfs/kubo/cmd/ipfs@VERSION` is tried first. kubo
# v0.43.1's go.mod replaces go-libp2p with a fork (github.com/lidel/go-libp2p)
# that the Go module proxy does not serve, and go install refuses a module
# with replace directives anyway; so, when it fails, kubo's module is
# downloaded, copied under bin/, the replace dropped and go-libp2p required
# at KUBO_LIBP2P (a release, which the fork only anticipated), and built.
#
# A failure is reported and is not an error: the test then skips.
set -u
GO=${GO:-go}
V=${KUBO_VERSION:-v0.43.1}
LIBP2P=${KUBO_LIBP2P:-v0.52.0}
BIN=$(pwd)/bin
want=$(echo "$V" | sed 's/^v//')

if [ -x "$BIN/ipfs" ] && "$BIN/ipfs" version 2>/dev/null | grep -qx "ipfs version $want"; then
	exit 0
fi
mkdir -p "$BIN"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "make: building kubo $V's ipfs into bin/ipfs for the kubo interop test (minutes)"
start=$(date +%s)
if (cd / && GOBIN="$BIN" $GO install "github.com/ipfs/kubo/cmd/ipfs@$V") >"$log" 2>&1; then
	echo "make: kubo $V built by go install in $(($(date +%s) - start)) s"
	exit 0
fi
dir=$(cd / && $GO mod download -json "github.com/ipfs/kubo@$V" 2>>"$log" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ]; then
	echo "make: cannot download kubo $V (no Go module proxy?): the kubo interop test will SKIP"
	sed 's/^/make:   /' "$log" | tail -5
	exit 0
fi
src="$BIN/kubo-src-$V"
rm -rf "$src"
cp -R "$dir" "$src" && chmod -R u+w "$src" || { echo "make: cannot copy kubo's sources: the kubo interop test will SKIP"; exit 0; }
if grep -q '^replace github.com/libp2p/go-libp2p ' "$src/go.mod"; then
	echo "make: kubo $V replaces go-libp2p with a fork the proxy may not serve: building with go-libp2p $LIBP2P"
	(cd "$src" && $GO mod edit -dropreplace=github.com/libp2p/go-libp2p -require="github.com/libp2p/go-libp2p@$LIBP2P")
fi
if (cd "$src" && $GO build -mod=mod -trimpath -o "$BIN/ipfs" ./cmd/ipfs) >"$log" 2>&1; then
	echo "make: kubo $V built in $(($(date +%s) - start)) s"
	rm -rf "$src"
	exit 0
fi
echo "make: cannot build kubo $V: the kubo interop test will SKIP"
grep -v '^go: downloading' "$log" | sed 's/^/make:   /' | tail -10
rm -rf "$src"
exit 0
