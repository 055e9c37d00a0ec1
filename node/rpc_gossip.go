package node

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/creachadair/jrpc2"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/clock"
)

// TopicInfo is one topic in gossip.topics.
type TopicInfo struct {
	Name  string `json:"name"`
	Peers int    `json:"peers"`
}

// GossipPeersParams are gossip.peers' parameters.
type GossipPeersParams struct {
	Topic string `json:"topic"`
}

// GossipPeer is one peer of a topic with its score.
type GossipPeer struct {
	ID         string  `json:"id"`
	Score      float64 `json:"score"`
	Graylisted bool    `json:"graylisted"`
}

// DirectoryParams are directory.list's parameters.
type DirectoryParams struct {
	// MinCores, MinMemoryMiB and MinDiskMiB filter on the offer.
	MinCores     uint32 `json:"min_cores,omitempty"`
	MinMemoryMiB uint64 `json:"min_memory_mib,omitempty"`
	MinDiskMiB   uint64 `json:"min_disk_mib,omitempty"`
	// Runtime keeps only nodes offering it ("wasm").
	Runtime string `json:"runtime,omitempty"`
	// Sort is price (default), load or latency.
	Sort string `json:"sort,omitempty"`
	// Limit caps the answer (default 100, at most 10000; see listLimit).
	Limit int `json:"limit,omitempty"`
}

// listLimit applies the default and the bound of directory.list's and
// task.list's limit parameter.
func listLimit(n int) (int, error) {
	switch {
	case n == 0:
		return 100, nil
	case n < 0 || n > 10000:
		return 0, invalidParams("limit %d: want 1 to 10000", n)
	}
	return n, nil
}

// DirectoryEntry is one node's offer as the API shows it.
type DirectoryEntry struct {
	Peer       string    `json:"peer"`
	Addrs      []string  `json:"addrs"`
	Cores      uint32    `json:"cores"`
	MemoryMiB  uint64    `json:"memory_mib"`
	DiskMiB    uint64    `json:"disk_mib"`
	Queue      uint32    `json:"queue"`
	Running    uint32    `json:"running"`
	Load       float64   `json:"load"` // tasks per core
	Price      uint64    `json:"price"`
	Runtimes   []string  `json:"runtimes"`
	Version    string    `json:"version"`
	Seq        uint64    `json:"seq"`
	Issued     time.Time `json:"issued"`
	Expires    time.Time `json:"expires"`
	AgeSeconds float64   `json:"age_seconds"`
	LatencyMS  float64   `json:"latency_ms,omitempty"`
	Self       bool      `json:"self,omitempty"`
}

func (n *Node) directoryEntry(e gossip.Entry) DirectoryEntry {
	a := e.Advert
	return DirectoryEntry{
		Peer: a.Peer.String(), Addrs: addrStrings(a.Addrs),
		Cores: a.Cores, MemoryMiB: a.Memory >> 20, DiskMiB: a.Disk >> 20,
		Queue: a.Queue, Running: a.Running, Load: float64(a.Load()) / 1000,
		Price: a.Price, Runtimes: a.Runtimes, Version: a.Version, Seq: a.Seq,
		Issued: a.Issued, Expires: a.Expires,
		AgeSeconds: clock.Since(n.clk, a.Issued).Seconds(),
		LatencyMS:  float64(e.Latency) / float64(time.Millisecond),
		Self:       a.Peer == n.host.ID(),
	}
}

func (n *Node) registerGossipMethods() error {
	methods := map[string]any{
		"gossip.topics": func(context.Context) ([]TopicInfo, error) {
			out := []TopicInfo{}
			for _, t := range n.gossip.Topics() {
				out = append(out, TopicInfo{Name: t, Peers: len(n.gossip.TopicPeers(t))})
			}
			return out, nil
		},
		"gossip.peers": func(_ context.Context, p GossipPeersParams) ([]GossipPeer, error) {
			known := false
			for _, t := range n.gossip.Topics() {
				known = known || t == p.Topic
			}
			if !known {
				return nil, &jrpc2.Error{Code: CodeNotFound, Message: fmt.Sprintf("no topic %q (see gossip.topics)", p.Topic)}
			}
			out := []GossipPeer{}
			for _, id := range n.gossip.TopicPeers(p.Topic) {
				gp := GossipPeer{ID: id.String()}
				if s, ok := n.gossip.Score(id); ok {
					gp.Score, gp.Graylisted = s.Score, s.Graylisted
				}
				out = append(out, gp)
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Score > out[j].Score })
			return out, nil
		},
		"directory.list": func(_ context.Context, p DirectoryParams) ([]DirectoryEntry, error) {
			q := gossip.Query{MinCores: p.MinCores, MinMemory: p.MinMemoryMiB << 20, MinDisk: p.MinDiskMiB << 20, Runtime: p.Runtime, Limit: p.Limit}
			if p.Sort != "" {
				k, ok := gossip.ParseSortKey(p.Sort)
				if !ok {
					return nil, invalidParams("sort %q: want price, load or latency", p.Sort)
				}
				q.Sort = k
			}
			var err error
			if q.Limit, err = listLimit(p.Limit); err != nil {
				return nil, err
			}
			out := []DirectoryEntry{}
			for _, e := range n.gossip.Directory().Query(q) {
				out = append(out, n.directoryEntry(e))
			}
			return out, nil
		},
		"directory.get": func(_ context.Context, p DHTPeerParams) (DirectoryEntry, error) {
			id, err := parsePeer(p.Peer)
			if err != nil {
				return DirectoryEntry{}, err
			}
			e, ok := n.gossip.Directory().Get(id)
			if !ok {
				return DirectoryEntry{}, &jrpc2.Error{Code: CodeNotFound, Message: fmt.Sprintf("no current advert from %s", id)}
			}
			return n.directoryEntry(e), nil
		},
	}
	return n.api.registerAll(methods)
}
