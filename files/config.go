package files

import (
	"errors"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/clock"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("files: invalid config")

// maxChunk is the largest chunk a leaf may hold: the store keeps values
// below 1 MiB, and a leaf is stored whole with a few bytes of key.
const maxChunk = 1 << 20

// Config tunes a Service.
type Config struct {
	// MaxFileBytes bounds the size of a file shared or fetched: a share of
	// a larger one, or a get whose root declares a larger one, is refused
	// with ErrTooLarge. 16 GiB: large videos and disk images fit, and one
	// file cannot take a default store whole.
	MaxFileBytes int64
	// MaxStorageBytes bounds the bytes of all the blocks kept; a share or a
	// get that would pass it is refused with ErrStorageFull. 64 GiB: a
	// share of a fog node's disk, not all of it.
	MaxStorageBytes int64
	// ChunkBytes is the size of a file's leaves. 256 KiB, kubo's default,
	// so that a file shared by fog has the CID kubo gives it with
	// --cid-version=1 (raw leaves, balanced layout).
	ChunkBytes int
	// Window is how many blocks one want of a get asks for at once, and
	// Windows how many such wants run at once. Each window's blocks are
	// written to the store one after another as they arrive, so many
	// windows let the store's group commit sync many blocks at once; but
	// Bitswap hands each want to the first source that says it has the
	// block, so with many blocks asked at once the fastest responder gets
	// them all and the other sources idle. 16 windows of 4 blocks (16 MiB
	// asked at a time, reached by the slow start of FirstWindows) keep one
	// source busy on loopback and spread a get over three capped sources
	// (BenchmarkLoopback, BenchmarkSources); 64 × 8 kept one source busy
	// alone.
	Window, Windows int
	// FirstWindows is how many windows each level of a file's DAG starts
	// with; each window that completes lets one more start, up to Windows
	// (a slow start). Windows started together all go to the source that
	// answers first, so many at once leave the other sources idle until
	// that one has sent them. 4 (4 MiB asked of one source at the start).
	FirstWindows int
	// SourceBacklog caps the want-blocks outstanding at each source: at
	// most what it sends in this time at the rate measured while it had
	// wants outstanding, and at least two windows. A source at its cap has
	// its HAVE answers held back until it is below, so that Bitswap, which
	// gives a window to the first source to answer, gives it to one with
	// room, and a source that answers fast cannot take most of a get. The
	// smaller, the more evenly a get ends on its sources (each is left
	// with at most its cap to send when no window is left to start).
	// 100 ms: on links of 16 MB/s (61 leaves a second) the floor of two
	// windows, 130 ms of sending, holds (BenchmarkSources: 250 ms left one
	// source sending alone for up to 0.3 s at the end); a source on
	// loopback (hundreds of leaves a second) may keep 40 or more blocks
	// asked.
	SourceBacklog time.Duration
	// MaxGets bounds the gets that run at once; more wait. 4.
	MaxGets int
	// Stall ends a get with ErrStalled when no block has arrived for this
	// long: no peer that has the file is reachable. 2 minutes: Bitswap
	// asks the DHT for more providers after 1 s and rebroadcasts its wants
	// every 30 s.
	Stall time.Duration
	// FindProviders is how many providers of a root a get looks up in the
	// DHT and connects to, so the Bitswap session can use them all. 20.
	FindProviders int
	// ReprovideInterval is how often the roots of pinned, complete files
	// are announced again: kad-dht forgets provider records after 48 h.
	// 12 hours, as kubo.
	ReprovideInterval time.Duration
	// MaxBadBlocks is how many blocks nobody asked for a peer may send
	// before it is dropped (its messages ignored, its connection closed,
	// every session forgetting it) for DropFor. Bitswap peers send blocks
	// only for wants, and a block's CID is computed from its bytes, so a
	// block whose CID was never wanted is bytes that do not match what was
	// asked: 2 allow one stale reply, not a stream of them.
	MaxBadBlocks int
	// DropFor is how long a dropped peer stays dropped. 1 hour.
	DropFor time.Duration
	// Streams and StreamsPerPeer bound the inbound Bitswap streams served
	// at once; StreamIdle resets one that moves no byte for that long.
	// A Bitswap server sends each reply on a new stream and moves on once
	// it is written, so while this node stores what arrived, a source's
	// streams queue up in its handlers (Bitswap's back-pressure); a stream
	// refused loses its blocks until the session asks again, seconds
	// later. 32 a peer were passed on loopback: 2048, 256 and 10 minutes.
	Streams, StreamsPerPeer int
	StreamIdle              time.Duration
	// Clock times stalls, reprovides, drops and transfer speeds.
	Clock clock.Clock
}

// DefaultConfig returns the configuration of a node.
func DefaultConfig() Config {
	return Config{
		MaxFileBytes:      16 << 30,
		MaxStorageBytes:   64 << 30,
		ChunkBytes:        256 << 10,
		Window:            4,
		Windows:           16,
		FirstWindows:      4,
		SourceBacklog:     100 * time.Millisecond,
		MaxGets:           4,
		Stall:             2 * time.Minute,
		FindProviders:     20,
		ReprovideInterval: 12 * time.Hour,
		MaxBadBlocks:      2,
		DropFor:           time.Hour,
		Streams:           2048,
		StreamsPerPeer:    256,
		StreamIdle:        10 * time.Minute,
		Clock:             clock.Real(),
	}
}

// TestConfig returns DefaultConfig with small files and short timers, for
// tests and devnets.
func TestConfig() Config {
	c := DefaultConfig()
	c.MaxFileBytes = 64 << 20
	c.MaxStorageBytes = 256 << 20
	c.ChunkBytes = 16 << 10
	c.Window, c.Windows = 16, 4
	c.Stall = 10 * time.Second
	c.ReprovideInterval = time.Minute
	c.DropFor = time.Minute
	c.StreamIdle = time.Minute
	return c
}

// Validate reports the first field with a bad value, naming it.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case c.MaxFileBytes <= 0:
		return bad("MaxFileBytes %d must be positive", c.MaxFileBytes)
	case c.MaxStorageBytes < c.MaxFileBytes:
		return bad("MaxStorageBytes %d is below MaxFileBytes %d", c.MaxStorageBytes, c.MaxFileBytes)
	case c.ChunkBytes < 1024 || c.ChunkBytes > maxChunk-4096:
		return bad("ChunkBytes %d is outside [1024, %d]", c.ChunkBytes, maxChunk-4096)
	case c.Window < 1:
		return bad("Window %d must be at least 1", c.Window)
	case c.Windows < 1:
		return bad("Windows %d must be at least 1", c.Windows)
	case c.FirstWindows < 1:
		return bad("FirstWindows %d must be at least 1", c.FirstWindows)
	case c.SourceBacklog <= 0:
		return bad("SourceBacklog %v must be positive", c.SourceBacklog)
	case c.MaxGets < 1:
		return bad("MaxGets %d must be at least 1", c.MaxGets)
	case c.Stall <= 0:
		return bad("Stall %v must be positive", c.Stall)
	case c.FindProviders < 1:
		return bad("FindProviders %d must be at least 1", c.FindProviders)
	case c.ReprovideInterval <= 0:
		return bad("ReprovideInterval %v must be positive", c.ReprovideInterval)
	case c.MaxBadBlocks < 1:
		return bad("MaxBadBlocks %d must be at least 1", c.MaxBadBlocks)
	case c.DropFor <= 0:
		return bad("DropFor %v must be positive", c.DropFor)
	case c.Streams < 1 || c.StreamsPerPeer < 1 || c.StreamsPerPeer > c.Streams:
		return bad("Streams %d and StreamsPerPeer %d: want 1 <= StreamsPerPeer <= Streams", c.Streams, c.StreamsPerPeer)
	case c.StreamIdle <= 0:
		return bad("StreamIdle %v must be positive", c.StreamIdle)
	case c.Clock == nil:
		return bad("Clock is nil")
	}
	return nil
}
