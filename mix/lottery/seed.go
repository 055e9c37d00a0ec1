package lottery

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// SeedSize is the length of an epoch seed.
const SeedSize = sha256.Size

// Seed is the public randomness of one epoch: every VRF input of the epoch
// contains it.
type Seed [SeedSize]byte

// String returns the seed in hex.
func (s Seed) String() string { return hex.EncodeToString(s[:]) }

// Domain separators. Each is a distinct fixed string, followed by fields of
// fixed or prefixed length, so no input of one kind can be read as another.
const (
	genesisDomain  = "fog/lottery/genesis/v1"
	seedDomain     = "fog/lottery/seed/v1"
	ticketDomain   = "fog/lottery/ticket/v1"
	revealDomain   = "fog/lottery/reveal/v1"
	claimSigDomain = "fog/lottery/claim-signature/v1"
	digestDomain   = "fog/lottery/directory/v1"
)

// appendNetwork appends the one-byte length of the network ID and the ID.
func appendNetwork(b []byte, cfg Config) []byte {
	b = append(b, byte(len(cfg.NetworkID)))
	return append(b, cfg.NetworkID...)
}

// GenesisSeed returns the seed of epoch 0:
// SHA-256("fog/lottery/genesis/v1" || len(NetworkID) || NetworkID ||
// Genesis in Unix seconds (8 bytes, big-endian, two's complement) ||
// its nanoseconds (4 bytes)). Everyone knows it in advance; it only has to
// differ between networks.
func GenesisSeed(cfg Config) Seed {
	b := []byte(genesisDomain)
	b = appendNetwork(b, cfg)
	b = binary.BigEndian.AppendUint64(b, uint64(cfg.Genesis.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(cfg.Genesis.Nanosecond()))
	return sha256.Sum256(b)
}

// NextSeed returns the seed of epoch e+1 from the seed of epoch e and the
// reveal outputs of epoch e's relays that arrived before epoch e+1 started:
//
//	seed(e+1) = SHA-256("fog/lottery/seed/v1" || len(NetworkID) || NetworkID ||
//	                    e+1 (8 bytes big-endian) || seed(e) || 0x01 || min(reveals))
//
// where min is the bytewise smallest reveal output, or, when there is no
// reveal, the same hash with a single 0x00 in place of 0x01 || min(reveals).
// Taking the minimum rather than combining every reveal limits a coalition
// that withholds some of its reveals to at most one alternative seed per
// withheld reveal, and only when that reveal would have been the smallest
// (see docs/lottery.md). Reveal outputs are VRF outputs (Reveal.Verify); the
// order of reveals does not matter.
func NextSeed(cfg Config, e uint64, seed Seed, reveals [][]byte) Seed {
	b := make([]byte, 0, len(seedDomain)+1+len(cfg.NetworkID)+8+SeedSize+1+64)
	b = append(b, seedDomain...)
	b = appendNetwork(b, cfg)
	b = binary.BigEndian.AppendUint64(b, e+1)
	b = append(b, seed[:]...)
	var least []byte
	for _, r := range reveals {
		if least == nil || bytes.Compare(r, least) < 0 {
			least = r
		}
	}
	if least == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, least...)
	}
	return sha256.Sum256(b)
}

// ticketAlpha is the VRF input of a claim: "fog/lottery/ticket/v1" ||
// len(NetworkID) || NetworkID || epoch (8 bytes big-endian) || seed.
func ticketAlpha(cfg Config, epoch uint64, seed Seed) []byte {
	return epochAlpha(ticketDomain, cfg, epoch, seed)
}

// revealAlpha is the VRF input of a reveal, the same fields under the
// reveal domain.
func revealAlpha(cfg Config, epoch uint64, seed Seed) []byte {
	return epochAlpha(revealDomain, cfg, epoch, seed)
}

func epochAlpha(domain string, cfg Config, epoch uint64, seed Seed) []byte {
	b := make([]byte, 0, len(domain)+1+len(cfg.NetworkID)+8+SeedSize)
	b = append(b, domain...)
	b = appendNetwork(b, cfg)
	b = binary.BigEndian.AppendUint64(b, epoch)
	return append(b, seed[:]...)
}
