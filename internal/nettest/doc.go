// Package nettest holds fog's test on real hosts (issue 17): the fog
// binary run as separate processes, each in a network namespace of its
// own, on links shaped by tc netem, two of them behind NAT routers
// (iptables MASQUERADE) in namespaces of their own. Its scenarios — a
// partition that heals, kill -9 and restart, AutoNAT, a circuit relay and
// hole punching between the NATed pair, a task from behind NAT, a direct
// and a mix message between the NATed pair — print one line each and a
// summary.
//
// It needs root, iproute2 (ip, tc) and iptables. `make nettest` installs
// iptables where it can and runs it (make test includes it); plain
// `go test` skips it, saying why, unless FOG_NETTEST=1. Where network
// namespaces cannot be made it skips, saying so. See docs/nettest.md.
//
// The package has no code of its own.
package nettest
