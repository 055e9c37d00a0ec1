package node

import (
	"context"
	"errors"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/dht"
)

// DHTPeerParams name a peer.
type DHTPeerParams struct {
	Peer string `json:"peer"`
}

// DHTFindPeerResult is dht.findPeer's result.
type DHTFindPeerResult struct {
	ID         string   `json:"id"`
	Addrs      []string `json:"addrs"`
	Hops       int      `json:"hops"`
	Queried    int      `json:"queried"`
	DurationMS float64  `json:"duration_ms"`
}

// DHTKeyParams name a provider key.
type DHTKeyParams struct {
	Key string `json:"key"`
	// Limit caps dht.findProviders' answer (default 20).
	Limit int `json:"limit,omitempty"`
}

// DHTProvider is one provider in dht.findProviders' result.
type DHTProvider struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// DHTPutParams are dht.put's parameters.
type DHTPutParams struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// DHTGetParams are dht.get's parameters.
type DHTGetParams struct {
	Peer string `json:"peer"`
	Name string `json:"name"`
}

// DHTRecord is a signed record as dht.put and dht.get return it.
type DHTRecord struct {
	Key   string `json:"key"`
	Owner string `json:"owner"`
	Name  string `json:"name"`
	Seq   uint64 `json:"seq"`
	Value string `json:"value"`
}

func recordResult(r dht.Record) DHTRecord {
	return DHTRecord{Key: r.Key(), Owner: r.Owner.String(), Name: r.Name, Seq: r.Seq, Value: string(r.Value)}
}

// lookupTimeout bounds a DHT call made over the API.
const lookupTimeout = time.Minute

func parsePeer(s string) (peer.ID, error) {
	id, err := peer.Decode(s)
	if err != nil {
		return "", invalidParams("peer %q is not a peer ID: %v", s, err)
	}
	return id, nil
}

// dhtError maps DHT errors to API errors callers can branch on.
func dhtError(err error) error {
	switch {
	case errors.Is(err, dht.ErrNotFound):
		return &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, dht.ErrBadKey), errors.Is(err, dht.ErrBadRecord):
		return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: err.Error()}
	}
	return err
}

func (n *Node) registerDHTMethods() error {
	methods := map[string]any{
		"dht.findPeer": func(ctx context.Context, p DHTPeerParams) (DHTFindPeerResult, error) {
			id, err := parsePeer(p.Peer)
			if err != nil {
				return DHTFindPeerResult{}, err
			}
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			ai, st, err := n.dht.FindPeerStats(ctx, id)
			if err != nil {
				return DHTFindPeerResult{}, dhtError(err)
			}
			return DHTFindPeerResult{ID: ai.ID.String(), Addrs: addrStrings(ai.Addrs), Hops: st.Hops,
				Queried: st.Queried, DurationMS: float64(st.Duration) / float64(time.Millisecond)}, nil
		},
		"dht.provide": func(ctx context.Context, p DHTKeyParams) (struct{}, error) {
			if p.Key == "" {
				return struct{}{}, invalidParams("key is empty")
			}
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			return struct{}{}, dhtError(n.dht.Provide(ctx, p.Key))
		},
		"dht.findProviders": func(ctx context.Context, p DHTKeyParams) ([]DHTProvider, error) {
			if p.Key == "" {
				return nil, invalidParams("key is empty")
			}
			if p.Limit < 0 || p.Limit > 1000 {
				return nil, invalidParams("limit %d: want 0 to 1000", p.Limit)
			}
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			ais, err := n.dht.FindProviders(ctx, p.Key, p.Limit)
			if err != nil {
				return nil, dhtError(err)
			}
			out := make([]DHTProvider, 0, len(ais))
			for _, ai := range ais {
				out = append(out, DHTProvider{ID: ai.ID.String(), Addrs: addrStrings(ai.Addrs)})
			}
			return out, nil
		},
		"dht.put": func(ctx context.Context, p DHTPutParams) (DHTRecord, error) {
			if err := dht.ValidateName(p.Name); err != nil {
				return DHTRecord{}, invalidParams("%v", err)
			}
			if len(p.Value) > dht.MaxValueLen {
				return DHTRecord{}, invalidParams("value is %d bytes, limit %d", len(p.Value), dht.MaxValueLen)
			}
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			r, err := n.dht.PutRecord(ctx, p.Name, []byte(p.Value))
			if err != nil {
				return DHTRecord{}, dhtError(err)
			}
			return recordResult(r), nil
		},
		"dht.get": func(ctx context.Context, p DHTGetParams) (DHTRecord, error) {
			id, err := parsePeer(p.Peer)
			if err != nil {
				return DHTRecord{}, err
			}
			if err := dht.ValidateName(p.Name); err != nil {
				return DHTRecord{}, invalidParams("%v", err)
			}
			ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
			r, err := n.dht.GetRecord(ctx, id, p.Name)
			if err != nil {
				return DHTRecord{}, dhtError(err)
			}
			return recordResult(r), nil
		},
		"dht.routingTable": func(context.Context) (dht.TableInfo, error) { return n.dht.Table(), nil },
	}
	return n.api.registerAll(methods)
}
