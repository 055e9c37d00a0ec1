package gossip

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Limits of an advert's fields; Advert.Validate, EncodeAdvert and
// DecodeAdvert enforce them.
const (
	// AdvertFormat is the first byte of every encoded advert. A new format
	// gets a new topic (/fog/capacity/2), so a node never penalises a
	// relay for a format it does not know.
	AdvertFormat = 1
	// MaxPeerIDLen bounds the encoded peer ID (an Ed25519 identity is 38
	// bytes).
	MaxPeerIDLen = 64
	// MaxAddrs bounds the addresses in an advert, and MaxAddrLen each
	// address's binary form.
	MaxAddrs   = 8
	MaxAddrLen = 128
	// MaxRuntimes bounds the runtimes in an advert, and MaxRuntimeLen each
	// name.
	MaxRuntimes   = 8
	MaxRuntimeLen = 32
	// MaxVersionLen bounds the software version string.
	MaxVersionLen = 64
	// MaxAdvertSize is the largest valid encoded advert.
	MaxAdvertSize = 2 + MaxPeerIDLen + 1 + MaxAddrs*(2+MaxAddrLen) + 4 + 8 + 8 + 4 + 4 + 8 +
		1 + MaxRuntimes*(1+MaxRuntimeLen) + 1 + MaxVersionLen + 8 + 8 + 8
)

// RuntimeWasm is the runtime name of WebAssembly tasks run by fog's
// compute executor (wazero, WASI preview 1).
const RuntimeWasm = "wasm"

// RuntimeWasmScratch, listed beside RuntimeWasm, says that the node also
// runs WebAssembly tasks that ask for a /scratch filesystem (in memory,
// within the node's quota). A node that refuses them, or predates them,
// does not list it, and submitters place scratch tasks only on nodes that
// do. It is a runtime name so that the advert's encoding is unchanged.
const RuntimeWasmScratch = "wasm/scratch"

// Advert is one node's offer of compute, as published on CapacityTopic and
// held in the Directory. Its authenticity comes from the gossipsub
// envelope: the advert is only accepted if Peer is the node whose key
// signed the message, so it carries no signature of its own.
type Advert struct {
	// Peer is the advertising node.
	Peer peer.ID `json:"peer"`
	// Addrs are addresses the node can be dialled at (at most MaxAddrs).
	Addrs []ma.Multiaddr `json:"addrs"`
	// Cores is the number of CPU cores offered to tasks.
	Cores uint32 `json:"cores"`
	// Memory and Disk are the free memory and disk offered, in bytes.
	Memory uint64 `json:"memory"`
	Disk   uint64 `json:"disk"`
	// Queue is the number of tasks waiting, Running the number running.
	Queue   uint32 `json:"queue"`
	Running uint32 `json:"running"`
	// Price is the price of one CPU-second, in micro-credits (millionths
	// of a credit).
	Price uint64 `json:"price"`
	// Runtimes are the task runtimes offered (RuntimeWasm), sorted, each
	// at most once; names are lower-case letters, digits and ._/-.
	Runtimes []string `json:"runtimes"`
	// Version is the node's software version (printable ASCII).
	Version string `json:"version"`
	// Seq grows with every advert of the node, across restarts (the
	// advertiser uses the wall clock in milliseconds as a floor).
	Seq uint64 `json:"seq"`
	// Issued is when the advert was made and Expires when it stops being
	// valid; both travel with millisecond precision.
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

// Load is the advert's load in tasks per core, in thousandths: (Queue +
// Running) * 1000 / max(Cores, 1). Directory queries sort by it.
func (a *Advert) Load() uint64 {
	c := uint64(a.Cores)
	if c == 0 {
		c = 1
	}
	return (uint64(a.Queue) + uint64(a.Running)) * 1000 / c
}

// Header returns what the validator chain checks: author, sequence, time.
func (a *Advert) Header() Header {
	return Header{Author: a.Peer, Seq: a.Seq, Time: a.Issued}
}

// Validate checks the field limits. It does not check freshness.
func (a *Advert) Validate() error {
	if n := len(a.Peer); n == 0 || n > MaxPeerIDLen {
		return fmt.Errorf("%w: advert peer ID has %d bytes, want 1..%d", ErrMalformed, n, MaxPeerIDLen)
	}
	if _, err := peer.IDFromBytes([]byte(a.Peer)); err != nil {
		return fmt.Errorf("%w: advert peer ID: %v", ErrMalformed, err)
	}
	if len(a.Addrs) > MaxAddrs {
		return fmt.Errorf("%w: advert has %d addresses, at most %d", ErrMalformed, len(a.Addrs), MaxAddrs)
	}
	for _, addr := range a.Addrs {
		if n := len(addr.Bytes()); n == 0 || n > MaxAddrLen {
			return fmt.Errorf("%w: advert address has %d bytes, want 1..%d", ErrMalformed, n, MaxAddrLen)
		}
	}
	if len(a.Runtimes) > MaxRuntimes {
		return fmt.Errorf("%w: advert has %d runtimes, at most %d", ErrMalformed, len(a.Runtimes), MaxRuntimes)
	}
	for i, r := range a.Runtimes {
		if !validRuntime(r) {
			return fmt.Errorf("%w: advert runtime %q: want 1..%d of [a-z0-9._/-] starting with a letter or digit", ErrMalformed, r, MaxRuntimeLen)
		}
		if i > 0 && a.Runtimes[i-1] >= r {
			return fmt.Errorf("%w: advert runtimes not sorted and unique", ErrMalformed)
		}
	}
	if len(a.Version) > MaxVersionLen {
		return fmt.Errorf("%w: advert version has %d bytes, at most %d", ErrMalformed, len(a.Version), MaxVersionLen)
	}
	for i := 0; i < len(a.Version); i++ {
		if c := a.Version[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: advert version is not printable ASCII", ErrMalformed)
		}
	}
	is, ex := a.Issued.UnixMilli(), a.Expires.UnixMilli()
	if is <= 0 {
		return fmt.Errorf("%w: advert issue time %d ms is not after 1970", ErrMalformed, is)
	}
	if ex <= is {
		return fmt.Errorf("%w: advert expires (%d ms) before it is issued (%d ms)", ErrMalformed, ex, is)
	}
	return nil
}

func validRuntime(r string) bool {
	if len(r) == 0 || len(r) > MaxRuntimeLen {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '/' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// EncodeAdvert returns the wire form of a (format 1, big-endian):
//
//	u8 format=1 | u8 len, peer ID | u8 n, n×(u16 len, multiaddr)
//	| u32 cores | u64 memory | u64 disk | u32 queue | u32 running | u64 price
//	| u8 n, n×(u8 len, runtime) | u8 len, version
//	| u64 seq | i64 issued (unix ms) | i64 expires (unix ms)
//
// The encoding is canonical: DecodeAdvert accepts exactly the outputs of
// EncodeAdvert.
func EncodeAdvert(a Advert) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128+len(a.Addrs)*32)
	b = append(b, AdvertFormat, byte(len(a.Peer)))
	b = append(b, a.Peer...)
	b = append(b, byte(len(a.Addrs)))
	for _, addr := range a.Addrs {
		ab := addr.Bytes()
		b = binary.BigEndian.AppendUint16(b, uint16(len(ab)))
		b = append(b, ab...)
	}
	b = binary.BigEndian.AppendUint32(b, a.Cores)
	b = binary.BigEndian.AppendUint64(b, a.Memory)
	b = binary.BigEndian.AppendUint64(b, a.Disk)
	b = binary.BigEndian.AppendUint32(b, a.Queue)
	b = binary.BigEndian.AppendUint32(b, a.Running)
	b = binary.BigEndian.AppendUint64(b, a.Price)
	b = append(b, byte(len(a.Runtimes)))
	for _, r := range a.Runtimes {
		b = append(b, byte(len(r)))
		b = append(b, r...)
	}
	b = append(b, byte(len(a.Version)))
	b = append(b, a.Version...)
	b = binary.BigEndian.AppendUint64(b, a.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Issued.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(a.Expires.UnixMilli()))
	return b, nil
}

// DecodeAdvert parses an advert from its wire form. It rejects, with an
// error wrapping ErrMalformed, anything EncodeAdvert would not produce:
// another format byte, a field beyond its limit, an invalid peer ID or
// multiaddr, unsorted runtimes, trailing bytes. It never panics.
func DecodeAdvert(b []byte) (Advert, error) {
	if len(b) > MaxAdvertSize {
		return Advert{}, fmt.Errorf("%w: advert has %d bytes, at most %d", ErrMalformed, len(b), MaxAdvertSize)
	}
	r := reader{b: b}
	if f := r.u8(); f != AdvertFormat {
		if r.err != nil {
			return Advert{}, r.err
		}
		return Advert{}, fmt.Errorf("%w: advert format %d, want %d", ErrMalformed, f, AdvertFormat)
	}
	var a Advert
	pid := r.bytes(int(r.u8()))
	if r.err == nil {
		id, err := peer.IDFromBytes(pid)
		if err != nil {
			return Advert{}, fmt.Errorf("%w: advert peer ID: %v", ErrMalformed, err)
		}
		a.Peer = id
	}
	n := int(r.u8())
	if n > MaxAddrs {
		return Advert{}, fmt.Errorf("%w: advert has %d addresses, at most %d", ErrMalformed, n, MaxAddrs)
	}
	if n > 0 && r.err == nil {
		a.Addrs = make([]ma.Multiaddr, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		ab := r.bytes(int(r.u16()))
		if r.err != nil {
			break
		}
		if len(ab) == 0 || len(ab) > MaxAddrLen {
			return Advert{}, fmt.Errorf("%w: advert address has %d bytes, want 1..%d", ErrMalformed, len(ab), MaxAddrLen)
		}
		addr, err := ma.NewMultiaddrBytes(ab)
		if err != nil {
			return Advert{}, fmt.Errorf("%w: advert address: %v", ErrMalformed, err)
		}
		// Multiaddr parsing may accept a form whose re-encoding differs;
		// the canonical rule says such input is not an advert.
		if !slices.Equal(addr.Bytes(), ab) {
			return Advert{}, fmt.Errorf("%w: advert address %d is not in canonical form", ErrMalformed, i)
		}
		a.Addrs = append(a.Addrs, addr)
	}
	a.Cores = r.u32()
	a.Memory = r.u64()
	a.Disk = r.u64()
	a.Queue = r.u32()
	a.Running = r.u32()
	a.Price = r.u64()
	n = int(r.u8())
	if n > MaxRuntimes {
		return Advert{}, fmt.Errorf("%w: advert has %d runtimes, at most %d", ErrMalformed, n, MaxRuntimes)
	}
	if n > 0 && r.err == nil {
		a.Runtimes = make([]string, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		s := r.bytes(int(r.u8()))
		if r.err == nil {
			a.Runtimes = append(a.Runtimes, string(s))
		}
	}
	a.Version = string(r.bytes(int(r.u8())))
	a.Seq = r.u64()
	is, ex := r.u64(), r.u64()
	if r.err != nil {
		return Advert{}, r.err
	}
	if len(r.b) != 0 {
		return Advert{}, fmt.Errorf("%w: advert has %d trailing bytes", ErrMalformed, len(r.b))
	}
	if is > math.MaxInt64 || ex > math.MaxInt64 {
		return Advert{}, fmt.Errorf("%w: advert time out of range", ErrMalformed)
	}
	a.Issued, a.Expires = time.UnixMilli(int64(is)), time.UnixMilli(int64(ex))
	if err := a.Validate(); err != nil {
		return Advert{}, err
	}
	return a, nil
}

// reader consumes big-endian fields and remembers the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: advert truncated", ErrMalformed)
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) bytes(n int) []byte { return r.take(n) }

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.take(8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}
