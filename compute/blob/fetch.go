package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/fog-compute/fog/compute/wasm"
)

// PeerError is why one peer did not deliver a module.
type PeerError struct {
	// Peer is the peer asked.
	Peer peer.ID
	// Err is why it failed: ErrNotFound, ErrBusy, ErrTooLarge,
	// ErrTimeout, ErrHashMismatch, ErrMalformed or a stream error.
	Err error
}

// Error names the peer and the reason.
func (e *PeerError) Error() string { return "peer " + e.Peer.String() + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *PeerError) Unwrap() error { return e.Err }

// Bad reports whether the peer misbehaved: it sent bytes that are not the
// module (ErrHashMismatch) or broke the wire format (ErrMalformed).
func (e *PeerError) Bad() bool {
	return errors.Is(e.Err, ErrHashMismatch) || errors.Is(e.Err, ErrMalformed)
}

// FetchError is Fetch's error when no peer delivered a valid copy. It
// matches ErrNotFound and, through Peers, the reason of each peer, so
// errors.Is(err, ErrHashMismatch) tells that some peer lied.
type FetchError struct {
	// ID is the module asked for.
	ID wasm.ModuleID
	// Peers are the peers asked, in the order they were, with why each
	// failed; empty if there was nobody to ask.
	Peers []*PeerError
	// Lookup is why the provider lookup failed, if it did.
	Lookup error
}

// Error summarizes the attempts.
func (e *FetchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "blob: fetch %s: no valid copy from %d peers", e.ID, len(e.Peers))
	for _, p := range e.Peers {
		b.WriteString("; ")
		b.WriteString(p.Error())
	}
	if e.Lookup != nil {
		b.WriteString("; provider lookup: ")
		b.WriteString(e.Lookup.Error())
	}
	return b.String()
}

// Unwrap returns ErrNotFound, every peer's error and the lookup's error.
func (e *FetchError) Unwrap() []error {
	errs := []error{ErrNotFound}
	for _, p := range e.Peers {
		errs = append(errs, p)
	}
	if e.Lookup != nil {
		errs = append(errs, e.Lookup)
	}
	return errs
}

// BadPeers returns the peers that misbehaved (see PeerError.Bad).
func (e *FetchError) BadPeers() []peer.ID {
	var ids []peer.ID
	for _, p := range e.Peers {
		if p.Bad() {
			ids = append(ids, p.Peer)
		}
	}
	return ids
}

// flight is one download of a module that concurrent Fetches share.
type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int  // Fetches waiting for it; guarded by Service.mu
	taken   bool // the first Fetch to return has the data itself
	data    []byte
	err     error
}

// Fetch returns module id: from the store if it holds it, otherwise from
// the peers in hint (typically the task's submitter), in order, and then
// from up to Config.MaxProviders providers found through Providers. Every
// copy received is verified against id; one that does not match is
// rejected and the next peer tried. The module is stored, and so announced.
//
// Concurrent Fetches of one module share one download (the hints of those
// that join it are not used); a Fetch whose ctx ends returns at once, and
// the download stops when no Fetch waits for it. When no peer delivers,
// the error is a *FetchError naming each peer asked and why it failed
// (it matches ErrNotFound). The caller owns the returned slice.
func (s *Service) Fetch(ctx context.Context, id wasm.ModuleID, hint ...peer.AddrInfo) ([]byte, error) {
	if data, err := s.store.Get(id); err == nil {
		return data, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("blob: fetch %s: %w", id, ErrClosed)
	}
	f, ok := s.flights[id]
	if !ok {
		fctx, cancel := context.WithCancel(s.ctx)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		s.flights[id] = f
		s.wg.Add(1)
		go s.fly(fctx, f, id, slices.Clone(hint))
	}
	f.waiters++
	s.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		s.mu.Lock()
		mine := !f.taken
		f.taken = true
		s.mu.Unlock()
		if mine {
			return f.data, nil
		}
		return bytes.Clone(f.data), nil
	case <-ctx.Done():
		s.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			// Nobody waits any more: stop, and let a later Fetch start
			// afresh rather than join a cancelled download.
			f.cancel()
			if s.flights[id] == f {
				delete(s.flights, id)
			}
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("blob: fetch %s: %w", id, ctx.Err())
	}
}

// fly runs one shared download.
func (s *Service) fly(ctx context.Context, f *flight, id wasm.ModuleID, hints []peer.AddrInfo) {
	defer s.wg.Done()
	defer f.cancel()
	data, err := s.download(ctx, id, hints)
	if err != nil && ctx.Err() != nil {
		if s.ctx.Err() != nil {
			err = fmt.Errorf("blob: fetch %s: %w", id, ErrClosed)
		} else {
			err = fmt.Errorf("blob: fetch %s: %w", id, ctx.Err())
		}
	}
	s.mu.Lock()
	if s.flights[id] == f {
		delete(s.flights, id)
	}
	f.data, f.err = data, err
	close(f.done)
	s.mu.Unlock()
}

// download gets module id from the hinted peers, then from providers.
func (s *Service) download(ctx context.Context, id wasm.ModuleID, hints []peer.AddrInfo) ([]byte, error) {
	if data, err := s.store.Get(id); err == nil {
		return data, nil // a download that just ended stored it
	}
	select {
	case s.fetchSem <- struct{}{}:
		defer func() { <-s.fetchSem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	fe := &FetchError{ID: id}
	tried := map[peer.ID]bool{s.h.ID(): true}
	try := func(ai peer.AddrInfo) []byte {
		if tried[ai.ID] {
			return nil
		}
		tried[ai.ID] = true
		data, err := s.fetchFrom(ctx, ai, id)
		if err == nil {
			return data
		}
		if ctx.Err() != nil {
			return nil
		}
		pe := &PeerError{Peer: ai.ID, Err: err}
		fe.Peers = append(fe.Peers, pe)
		if pe.Bad() {
			s.badResponses.Add(1)
			s.log.Info("peer sent a bad module response", "peer", ai.ID, "module", id, "err", err)
			if s.onBad != nil {
				s.onBad(ai.ID, err)
			}
		} else {
			s.log.Debug("module fetch from peer failed", "peer", ai.ID, "module", id, "err", err)
		}
		return nil
	}
	for _, ai := range hints {
		if data := try(ai); data != nil {
			return s.keep(ctx, id, data), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if s.prov != nil && s.cfg.MaxProviders > 0 {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
		provs, err := s.prov.FindProviders(lctx, ProviderKey(id), s.cfg.MaxProviders)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			fe.Lookup = err
		}
		for _, ai := range provs {
			if data := try(ai); data != nil {
				return s.keep(ctx, id, data), nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	s.fetchFailed.Add(1)
	return nil, fe
}

// keep stores a verified module. A store that has no room (every module
// in use) does not fail the fetch: the caller still gets the module.
func (s *Service) keep(ctx context.Context, id wasm.ModuleID, data []byte) []byte {
	s.fetched.Add(1)
	s.fetchedBytes.Add(uint64(len(data)))
	// readResponse verified the hash; the store need not hash it again.
	if err := s.store.put(context.WithoutCancel(ctx), id, data); err != nil {
		s.log.Warn("fetched module not cached", "module", id, "err", err)
	}
	return data
}

// fetchFrom asks one peer for module id over one stream.
func (s *Service) fetchFrom(ctx context.Context, ai peer.AddrInfo, id wasm.ModuleID) ([]byte, error) {
	if len(ai.Addrs) > 0 {
		s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := Protocol.Open(octx, s.h, ai.ID)
	if err != nil {
		return nil, err
	}
	w := newWatchdog(s.cfg.Clock, st, s.cfg.StreamTimeout, s.cfg.IdleTimeout)
	defer w.stop()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	if _, err := st.Write(Request{ID: id}.Marshal()); err != nil {
		_ = st.Reset()
		return nil, w.err(fmt.Errorf("blob: send request: %w", err))
	}
	_ = st.CloseWrite()
	data, err := readResponse(progressReader{r: st, w: w}, id, s.cfg.MaxModuleBytes)
	if err != nil {
		_ = st.Reset()
		return nil, w.err(err)
	}
	_ = st.Close()
	return data, nil
}
