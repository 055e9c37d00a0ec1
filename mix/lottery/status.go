package lottery

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Stats counts what a node's lottery decided. ClaimsVerified counts claims
// that went through signature and VRF verification (accepted, or rejected
// by one of those checks), and VerifyTime the time spent validating them,
// so ClaimsVerified / VerifyTime is the node's claim verification rate.
// A Node fills the counters of its decisions; its driver adds VerifyTime
// (a Node reads no clock), Published and PublishErrors.
type Stats struct {
	ClaimsAccepted uint64 `json:"claims_accepted"`
	// Wins counts the epochs in which this node drew a winning ticket and
	// claimed its seats (since the Node started: claims restored from
	// its records are not counted again), ClaimFailures those in which it
	// could not draw or claim (ClaimFailed).
	Wins                uint64            `json:"wins"`
	ClaimFailures       uint64            `json:"claim_failures"`
	ClaimsVerified      uint64            `json:"claims_verified"`
	VerifyTime          time.Duration     `json:"verify_time_ns"`
	RevealsAccepted     uint64            `json:"reveals_accepted"`
	CandidaciesAccepted uint64            `json:"candidacies_accepted"`
	Rejected            map[string]uint64 `json:"rejected"`
	Ignored             map[string]uint64 `json:"ignored"`
	WrongSeed           uint64            `json:"wrong_seed"`
	Adopted             uint64            `json:"adopted"`
	Published           uint64            `json:"published"`
	PublishErrors       uint64            `json:"publish_errors"`
}

// ClosedInfo says when and how this node's directory of an epoch became
// final.
type ClosedInfo struct {
	Epoch uint64 `json:"epoch"`
	// At is when the node closed the directory (ClaimClose(Epoch) on its
	// clock, plus scheduling delay).
	At time.Time `json:"at"`
	// LastChange is when the last claim that changed the directory was
	// accepted (zero for a directory that stayed empty): from then on the
	// node held its final directory.
	LastChange time.Time        `json:"last_change,omitzero"`
	Digest     [DigestSize]byte `json:"digest"`
	Relays     int              `json:"relays"`
	Seats      uint64           `json:"seats"`
}

// EpochStatus describes one epoch as this node sees it.
type EpochStatus struct {
	Epoch uint64    `json:"epoch"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Phase is "claims" (claim window open), "quiet", "reveals" or
	// "pending" (not started); only for the current epoch.
	Phase string `json:"phase,omitempty"`
	// Seed is the epoch's seed in hex, once final on this node.
	Seed string `json:"seed,omitempty"`
	// Candidates is the candidate count (total weight); for the next epoch
	// in announced mode, those announced so far.
	Candidates uint64 `json:"candidates"`
	// Eligible says this node has weight in the epoch.
	Eligible bool `json:"eligible"`
	// TargetRelays is the epoch's R: the configured one, or the stake
	// oracle's (RelayTarget).
	TargetRelays int `json:"target_relays"`
	// Relays and Closed describe the directory (current epoch only).
	Relays int  `json:"relays"`
	Closed bool `json:"closed"`
}

// Win is an epoch in which this node won seats.
type Win struct {
	Epoch  uint64 `json:"epoch"`
	Layer  int    `json:"layer"`
	Seats  uint64 `json:"seats"`
	MixKey string `json:"mix_key"` // the X25519 public key, hex
	// InDirectory says the claim is in this node's directory of the epoch
	// (false if the node's chain was replaced after it claimed).
	InDirectory bool `json:"in_directory"`
}

// Status is this node's part in the lottery, for relay.status.
type Status struct {
	NetworkID string `json:"network_id"`
	Peer      string `json:"peer"`
	// Candidate says the node is configured to stand.
	Candidate bool `json:"candidate"`
	// Mode is how candidates are known: "announced", "static" or "stake".
	Mode    string `json:"mode"`
	Running bool   `json:"running"`
	// Confirmed says the node's seed chain is trusted: it listened from
	// genesis, restarted without missing a window, or saw JoinQuorum
	// claimants agree with it. Until then it may adopt the seed the
	// network's claims carry.
	Confirmed bool        `json:"confirmed"`
	Current   EpochStatus `json:"current"`
	Next      EpochStatus `json:"next"`
	// Wins lists the epochs still kept in which this node won seats.
	Wins  []Win `json:"wins"`
	Stats Stats `json:"stats"`
}

// RelayInfo is one relay of a directory, for relay.directory.
type RelayInfo struct {
	Peer   string `json:"peer"`
	Layer  int    `json:"layer"`
	Seats  uint64 `json:"seats"`
	MixKey string `json:"mix_key"` // X25519 public key, hex
}

// DirectoryInfo is a directory as the API shows it.
type DirectoryInfo struct {
	Epoch  uint64      `json:"epoch"`
	Start  time.Time   `json:"start"`
	Seed   string      `json:"seed"`
	Closed bool        `json:"closed"`
	Digest string      `json:"digest"`
	Seats  uint64      `json:"seats"`
	Relays []RelayInfo `json:"relays"`
	// Equivocators are peers excluded for publishing two claims.
	Equivocators []string `json:"equivocators,omitempty"`
}

// Epoch returns the latest epoch whose seed is final on this node (before
// Start, 0).
func (n *Node) Epoch() uint64 {
	if n.st == nil {
		return 0
	}
	return n.st.Epoch()
}

// Confirmed reports whether the node trusts its seed chain.
func (n *Node) Confirmed() bool { return n.confirmed }

// Directory returns a copy of this node's relay directory of epoch e, if it
// still holds it (the current epoch and KeepEpochs before). The current
// epoch's directory may still grow until its claim window closes.
func (n *Node) Directory(e uint64) (*Directory, bool) {
	if n.st == nil {
		return nil, false
	}
	return n.st.Directory(e)
}

// Seed returns this node's seed of epoch e, if it still holds it.
func (n *Node) Seed(e uint64) (Seed, bool) {
	if n.st == nil {
		return Seed{}, false
	}
	return n.st.Seed(e)
}

// MixKey returns this node's X25519 mix private key for epoch e, if it won
// seats in e and still keeps the key (epochs before the previous one are
// deleted), and the claim carrying its public half is in this node's
// directory of e (or the directory is no longer held).
func (n *Node) MixKey(e uint64) (*ecdh.PrivateKey, bool) {
	o, ok := n.own[e]
	if !ok || n.st == nil {
		return nil, false
	}
	if d, held := n.st.Directory(e); held {
		r, in := d.Lookup(o.Claim.Claimant)
		if !in || !r.MixKey.Equal(o.Claim.MixKey) {
			return nil, false
		}
	}
	return o.MixKey, true
}

// ClosedInfo returns when and with what digest this node closed the
// directory of epoch e.
func (n *Node) ClosedInfo(e uint64) (ClosedInfo, bool) {
	ci, ok := n.closed[e]
	return ci, ok
}

// Stats returns the node's counters (a copy).
func (n *Node) Stats() Stats {
	out := n.stats
	out.Rejected = maps.Clone(n.stats.Rejected)
	out.Ignored = maps.Clone(n.stats.Ignored)
	return out
}

// Candidates returns the candidates of epoch e: the configured set, or the
// announced one (which may still grow until the window of e-1 closes). It
// returns nil with a stake oracle.
func (n *Node) Candidates(e uint64) []ed25519.PublicKey {
	switch {
	case n.book != nil:
		return n.book.Candidates(e)
	case n.mode == "static":
		out := make([]ed25519.PublicKey, 0, len(n.cfg.Candidates))
		for _, p := range n.cfg.Candidates {
			k, _ := candidateKey(p)
			out = append(out, k)
		}
		slices.SortFunc(out, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
		return out
	}
	return nil
}

// Status returns this node's candidacy, wins and the current and next
// epochs as of now. Peer and Running are the driver's to fill in, and so
// are the Stats counters a Node does not keep.
func (n *Node) Status(now time.Time) Status {
	st := Status{
		NetworkID: n.cfg.NetworkID, Candidate: n.cfg.Candidate, Mode: n.mode,
		Confirmed: n.confirmed, Wins: []Win{}, Stats: n.Stats(),
	}
	cur := uint64(0)
	if n.st != nil {
		cur = n.st.Epoch()
	} else {
		cur, _ = n.cfg.EpochAt(now)
	}
	st.Current = n.epochStatus(cur)
	switch {
	case now.Before(n.cfg.EpochStart(cur)):
		st.Current.Phase = "pending"
	case now.Before(n.cfg.ClaimClose(cur)):
		st.Current.Phase = "claims"
	case now.Before(n.cfg.revealAt(cur)):
		st.Current.Phase = "quiet"
	default:
		st.Current.Phase = "reveals"
	}
	if n.st != nil {
		if d, ok := n.st.Directory(cur); ok {
			st.Current.Relays = d.Len()
		}
		_, st.Current.Closed = n.closed[cur]
	}
	st.Next = n.epochStatus(cur + 1)
	for _, e := range slices.Sorted(maps.Keys(n.own)) {
		o := n.own[e]
		w := Win{Epoch: e, Layer: o.Claim.Layer, Seats: o.Claim.Seats, MixKey: hex.EncodeToString(o.Claim.MixKey.Bytes())}
		if n.st != nil {
			if d, ok := n.st.Directory(e); ok {
				r, in := d.Lookup(o.Claim.Claimant)
				w.InDirectory = in && r.MixKey.Equal(o.Claim.MixKey)
			}
		}
		st.Wins = append(st.Wins, w)
	}
	return st
}

func (n *Node) epochStatus(e uint64) EpochStatus {
	es := EpochStatus{Epoch: e, Start: n.cfg.EpochStart(e), End: n.cfg.EpochStart(e + 1), TargetRelays: n.cfg.TargetRelays}
	if n.st != nil {
		if seed, ok := n.st.Seed(e); ok {
			es.Seed = seed.String()
		}
	}
	if n.stake != nil {
		es.Candidates = n.stake.TotalWeight(e)
		es.Eligible = n.pub != nil && n.stake.Weight(e, n.pub) > 0
		es.TargetRelays = TargetRelays(n.cfg.Config, n.stake, e)
	}
	return es
}

// DirectoryInfo returns this node's directory of epoch e in API form.
func (n *Node) DirectoryInfo(e uint64) (DirectoryInfo, bool) {
	d, ok := n.Directory(e)
	if !ok {
		return DirectoryInfo{}, false
	}
	_, closed := n.closed[e]
	dg := d.Digest()
	out := DirectoryInfo{
		Epoch: e, Start: n.cfg.EpochStart(e), Seed: d.Seed().String(), Closed: closed,
		Digest: hex.EncodeToString(dg[:]), Seats: d.Seats(), Relays: []RelayInfo{},
	}
	for _, r := range d.Relays() {
		id, _ := keyPeerID(r.Claimant)
		out.Relays = append(out.Relays, RelayInfo{Peer: id.String(), Layer: r.Layer, Seats: r.Seats, MixKey: hex.EncodeToString(r.MixKey.Bytes())})
	}
	for _, k := range d.Equivocators() {
		id, _ := keyPeerID(k)
		out.Equivocators = append(out.Equivocators, id.String())
	}
	return out, true
}
