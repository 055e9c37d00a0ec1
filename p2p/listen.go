package p2p

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	ma "github.com/multiformats/go-multiaddr"
)

// ErrAddrInUse means a listen address with a fixed port is taken, by
// another fog node or another program. libp2p's TCP transport binds with
// SO_REUSEPORT, so without this check a second node told to listen on the
// same TCP port starts and shares the port with the first (the kernel
// spreads incoming connections between them) instead of failing.
var ErrAddrInUse = errors.New("p2p: listen address in use")

// checkListenFree fails with ErrAddrInUse if the fixed TCP or UDP port of
// an address in addrs cannot be bound by this process alone. Port 0 (any
// free port) is not checked. Other bind errors are left to libp2p, which
// reports them when it listens.
func checkListenFree(addrs []ma.Multiaddr) error {
	for _, a := range addrs {
		host, err := a.ValueForProtocol(ma.P_IP4)
		if err != nil {
			if host, err = a.ValueForProtocol(ma.P_IP6); err != nil {
				continue // not an IP address: nothing to check here
			}
		}
		if port, err := a.ValueForProtocol(ma.P_TCP); err == nil && port != "0" {
			l, err := net.Listen("tcp", net.JoinHostPort(host, port))
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("%w: %s: TCP port %s is taken (another fog node or program listens there); choose another port in p2p.listen", ErrAddrInUse, a, port)
				}
				continue
			}
			_ = l.Close()
		}
		if port, err := a.ValueForProtocol(ma.P_UDP); err == nil && port != "0" {
			c, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("%w: %s: UDP port %s is taken (another fog node or program listens there); choose another port in p2p.listen", ErrAddrInUse, a, port)
				}
				continue
			}
			_ = c.Close()
		}
	}
	return nil
}
