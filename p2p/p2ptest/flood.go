// Package p2ptest holds hostile raw-transport clients for tests of the
// p2p package's connection limits.
package p2ptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Flood is a set of connections to one peer that a hostile process holds:
// each under a fresh identity, all from one IP address, each secured
// (Noise) and multiplexed (yamux) like an honest peer's, and then idle.
type Flood struct {
	// Held is the number of connections the target accepted; Refused the
	// number it refused (closed during the handshake).
	Held, Refused int

	mu    sync.Mutex
	conns []transport.CapableConn
}

// ErrNoTCPAddr is returned when the target has no TCP address.
var ErrNoTCPAddr = errors.New("p2ptest: target has no TCP address")

// NewFlood opens n connections to target's first TCP address from the
// address from (which must be a local address, such as 127.0.0.2 on
// Linux's loopback), parallel of them at a time. Refused connections are
// counted, not errors; an error is returned only for a failure of the
// flood itself (no key, no TCP address, an unusable source address, ctx).
// Close closes the held connections.
func NewFlood(ctx context.Context, target peer.AddrInfo, from netip.Addr, n, parallel int) (*Flood, error) {
	var raddr ma.Multiaddr
	for _, a := range target.Addrs {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil && manet.IsIPLoopback(a) {
			raddr = a
			break
		}
	}
	if raddr == nil {
		return nil, ErrNoTCPAddr
	}
	// The source address must be usable here: fail the flood, not count
	// every dial as refused.
	l, err := net.Listen("tcp", netip.AddrPortFrom(from, 0).String())
	if err != nil {
		return nil, fmt.Errorf("p2ptest: source address %s: %w", from, err)
	}
	l.Close()

	f := &Flood{}
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	var firstErr error
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			f.Close()
			return nil, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dialOne(ctx, raddr, target.ID, from)
			f.mu.Lock()
			defer f.mu.Unlock()
			switch {
			case err == nil:
				f.conns = append(f.conns, c)
				f.Held++
			case errors.Is(err, errSetup):
				if firstErr == nil {
					firstErr = err
				}
			default:
				f.Refused++
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		f.Close()
		return nil, firstErr
	}
	return f, ctx.Err()
}

var errSetup = errors.New("p2ptest: flood setup")

// dialOne opens one connection to p at raddr under a fresh identity, from
// the address from.
func dialOne(ctx context.Context, raddr ma.Multiaddr, p peer.ID, from netip.Addr) (transport.CapableConn, error) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", errSetup, err)
	}
	muxers := []tptu.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	nt, err := noise.New(noise.ID, key, muxers)
	if err != nil {
		return nil, fmt.Errorf("%w: noise: %v", errSetup, err)
	}
	up, err := tptu.New([]sec.SecureTransport{nt}, muxers, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: upgrader: %v", errSetup, err)
	}
	src := &net.TCPAddr{IP: from.AsSlice()}
	tr, err := tcp.NewTCPTransport(up, nil, nil, tcp.DisableReuseport(),
		tcp.WithDialerForAddr(func(ma.Multiaddr) (tcp.ContextDialer, error) {
			return &net.Dialer{LocalAddr: src}, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("%w: transport: %v", errSetup, err)
	}
	return tr.Dial(ctx, raddr, p)
}

// Close closes every held connection.
func (f *Flood) Close() error {
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
