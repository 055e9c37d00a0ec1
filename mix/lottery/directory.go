package lottery

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// DigestSize is the length of a directory digest.
const DigestSize = sha256.Size

// Relay is one entry of a directory: a winner of the epoch's lottery.
type Relay struct {
	Claimant ed25519.PublicKey // identity key
	Layer    int               // mix layer it serves
	Seats    uint64            // seats won; route selection may weight by it
	MixKey   *ecdh.PublicKey   // X25519 key for the epoch's onion packets
}

type pkKey = [ed25519.PublicKeySize]byte

type dirEntry struct {
	claim *Claim
	enc   []byte
}

// Directory is the relay directory of one epoch: the verified claims for it,
// at most one per claimant. Two nodes that added the same set of claims, in
// any order, hold directories with the same Digest.
//
// A claimant that equivocates (two different valid claims for the epoch) is
// excluded: both claims leave the directory and later claims from it are
// refused. Keeping neither, rather than picking one, makes every node that
// has seen any two versions agree, so each node needs to forward at most two
// versions per claimant (see docs/lottery.md).
//
// A Directory is not safe for concurrent use; State hands out clones.
type Directory struct {
	epoch    uint64
	seed     Seed
	entries  map[pkKey]dirEntry
	excluded map[pkKey][2][]byte // the two conflicting encodings
}

// NewDirectory returns an empty directory for epoch e with seed.
func NewDirectory(e uint64, seed Seed) *Directory {
	return &Directory{epoch: e, seed: seed, entries: map[pkKey]dirEntry{}, excluded: map[pkKey][2][]byte{}}
}

// Epoch returns the directory's epoch.
func (d *Directory) Epoch() uint64 { return d.epoch }

// Seed returns the seed of the directory's epoch.
func (d *Directory) Seed() Seed { return d.seed }

// Add records a claim that Verify accepted for the directory's epoch and
// seed; Add itself does not verify. It returns nil if the claim is new,
// ErrDuplicate if the same claim is already there, ErrEquivocation if the
// claimant already had a different claim (the claimant is then excluded),
// ErrExcluded if the claimant was excluded before, and ErrWrongEpoch,
// ErrWrongSeed or ErrMalformed for a claim that cannot belong here.
func (d *Directory) Add(c *Claim) error {
	if c.Epoch != d.epoch {
		return fmt.Errorf("%w: claim for epoch %d in directory of epoch %d", ErrWrongEpoch, c.Epoch, d.epoch)
	}
	if c.Seed != d.seed {
		return fmt.Errorf("%w: claim seed %s in directory with seed %s", ErrWrongSeed, c.Seed, d.seed)
	}
	enc, err := c.Encode()
	if err != nil {
		return err
	}
	k := pkKey(c.Claimant)
	if err := d.known(k, enc); err != nil {
		if prev, ok := d.entries[k]; ok && !bytes.Equal(prev.enc, enc) {
			delete(d.entries, k)
			d.excluded[k] = [2][]byte{prev.enc, enc}
		}
		return err
	}
	own, err := DecodeClaim(enc) // a private copy: the caller may reuse c
	if err != nil {
		return err
	}
	d.entries[k] = dirEntry{claim: own, enc: enc}
	return nil
}

// known reports how the claim with encoding enc by claimant k relates to the
// directory without changing it: nil if it would be new, or ErrDuplicate,
// ErrEquivocation or ErrExcluded as Add would return.
func (d *Directory) known(k pkKey, enc []byte) error {
	if ev, ok := d.excluded[k]; ok {
		if bytes.Equal(ev[0], enc) || bytes.Equal(ev[1], enc) {
			return fmt.Errorf("%w: claim by excluded %x", ErrDuplicate, k[:])
		}
		return fmt.Errorf("%w: %x", ErrExcluded, k[:])
	}
	if prev, ok := d.entries[k]; ok {
		if bytes.Equal(prev.enc, enc) {
			return fmt.Errorf("%w: claim by %x", ErrDuplicate, k[:])
		}
		return fmt.Errorf("%w: %x made two claims for epoch %d", ErrEquivocation, k[:], d.epoch)
	}
	return nil
}

// Len returns the number of relays.
func (d *Directory) Len() int { return len(d.entries) }

// Seats returns the number of seats of all relays together.
func (d *Directory) Seats() uint64 {
	var n uint64
	for _, e := range d.entries {
		n += e.claim.Seats
	}
	return n
}

// sorted returns the entries in canonical order: by layer, then by
// claimant key bytes.
func (d *Directory) sorted() []dirEntry {
	es := slices.Collect(maps.Values(d.entries))
	slices.SortFunc(es, func(a, b dirEntry) int {
		if c := cmp.Compare(a.claim.Layer, b.claim.Layer); c != 0 {
			return c
		}
		return bytes.Compare(a.claim.Claimant, b.claim.Claimant)
	})
	return es
}

func (e dirEntry) relay() Relay {
	return Relay{
		Claimant: bytes.Clone(e.claim.Claimant),
		Layer:    e.claim.Layer,
		Seats:    e.claim.Seats,
		MixKey:   e.claim.MixKey,
	}
}

// Relays returns every relay in canonical order (by layer, then by claimant
// key bytes).
func (d *Directory) Relays() []Relay {
	es := d.sorted()
	out := make([]Relay, len(es))
	for i, e := range es {
		out[i] = e.relay()
	}
	return out
}

// Layer returns the relays serving mix layer l, in canonical order.
func (d *Directory) Layer(l int) []Relay {
	var out []Relay
	for _, e := range d.sorted() {
		if e.claim.Layer == l {
			out = append(out, e.relay())
		}
	}
	return out
}

// Lookup returns the relay with identity key pk, if it is in the directory.
func (d *Directory) Lookup(pk ed25519.PublicKey) (Relay, bool) {
	if len(pk) != ed25519.PublicKeySize {
		return Relay{}, false
	}
	e, ok := d.entries[pkKey(pk)]
	if !ok {
		return Relay{}, false
	}
	return e.relay(), true
}

// Claims returns the encoded claims in canonical order: what a node serves
// to a peer that missed the epoch's gossip (each one to be checked with
// DecodeClaim and Verify).
func (d *Directory) Claims() [][]byte {
	es := d.sorted()
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = bytes.Clone(e.enc)
	}
	return out
}

// Equivocators returns the keys excluded for equivocation, sorted.
func (d *Directory) Equivocators() []ed25519.PublicKey {
	ks := slices.SortedFunc(maps.Keys(d.excluded), func(a, b pkKey) int { return bytes.Compare(a[:], b[:]) })
	out := make([]ed25519.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = bytes.Clone(k[:])
	}
	return out
}

// Evidence returns the two conflicting encoded claims that got pk excluded:
// two validly signed claims by one key for one epoch, proof of equivocation
// that anyone can check.
func (d *Directory) Evidence(pk ed25519.PublicKey) (first, second []byte, ok bool) {
	if len(pk) != ed25519.PublicKeySize {
		return nil, nil, false
	}
	ev, ok := d.excluded[pkKey(pk)]
	if !ok {
		return nil, nil, false
	}
	return bytes.Clone(ev[0]), bytes.Clone(ev[1]), true
}

// Digest returns SHA-256 over the directory's canonical encoding:
// "fog/lottery/directory/v1" || epoch (8 bytes) || seed || number of claims
// (4 bytes) || the encoded claims in canonical order || number of excluded
// keys (4 bytes) || the excluded keys in ascending order. Equal digests mean
// equal directories.
func (d *Directory) Digest() [DigestSize]byte {
	h := sha256.New()
	h.Write([]byte(digestDomain))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], d.epoch)
	h.Write(n[:])
	h.Write(d.seed[:])
	es := d.sorted()
	binary.BigEndian.PutUint32(n[:4], uint32(len(es)))
	h.Write(n[:4])
	for _, e := range es {
		h.Write(e.enc)
	}
	ex := d.Equivocators()
	binary.BigEndian.PutUint32(n[:4], uint32(len(ex)))
	h.Write(n[:4])
	for _, pk := range ex {
		h.Write(pk)
	}
	var sum [DigestSize]byte
	h.Sum(sum[:0])
	return sum
}

// Clone returns an independent copy of d.
func (d *Directory) Clone() *Directory {
	return &Directory{
		epoch:    d.epoch,
		seed:     d.seed,
		entries:  maps.Clone(d.entries),
		excluded: maps.Clone(d.excluded),
	}
}
