package lottery

import (
	"cmp"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/fog-compute/fog/store"
)

// What the Service keeps in its store, under the Datastore the node gives it
// (keys /<kind>/<id>, as store.Key builds them):
//
//	/meta/state              fingerprint, checkpoint, listening span, trust
//	/claim/<epoch>           this node's claim and mix private key (synced before publishing)
//	/log/<epoch>.<seq>       a message the State or the candidate book took, with its receive time
//
// After a restart the Service starts a State at the checkpoint and replays
// the log and its own claims through it at the logged times (State is
// deterministic), so it rebuilds the directories, seed and candidate sets it
// had, and never draws a second ticket for an epoch it already claimed.
const (
	kindMeta  = "meta"
	kindOwn   = "claim"
	kindLog   = "log"
	metaID    = "state"
	metaSize  = 1 + sha256.Size + 8 + SeedSize + 8 + 8 + 1
	metaVer   = 1
	ownSize   = 8 + ClaimSize + 32
	epochPad  = "%020d"
	logIDSep  = "."
	fpDomain  = "fog/lottery/persist/v1"
	timeBytes = 8
)

// meta is the Service's durable bookkeeping.
type meta struct {
	fingerprint [sha256.Size]byte
	checkpoint  Checkpoint
	spanFrom    time.Time // start of the span the node has been listening without a gap
	alive       time.Time // last moment the node is known to have been listening
	confirmed   bool      // the seed chain is trusted
}

func (m meta) encode() []byte {
	b := make([]byte, 0, metaSize)
	b = append(b, metaVer)
	b = append(b, m.fingerprint[:]...)
	b = binary.BigEndian.AppendUint64(b, m.checkpoint.Epoch)
	b = append(b, m.checkpoint.Seed[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.spanFrom.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.alive.UnixNano()))
	if m.confirmed {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) != metaSize || b[0] != metaVer {
		return meta{}, fmt.Errorf("lottery: stored state: %d bytes, version %d", len(b), firstByte(b))
	}
	var m meta
	off := 1
	copy(m.fingerprint[:], b[off:])
	off += sha256.Size
	m.checkpoint.Epoch = binary.BigEndian.Uint64(b[off:])
	off += 8
	copy(m.checkpoint.Seed[:], b[off:])
	off += SeedSize
	m.spanFrom = time.Unix(0, int64(binary.BigEndian.Uint64(b[off:])))
	off += 8
	m.alive = time.Unix(0, int64(binary.BigEndian.Uint64(b[off:])))
	off += 8
	m.confirmed = b[off] == 1
	return m, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// ownClaim is a claim this node published, with its mix key.
type ownClaim struct {
	at     time.Time
	data   []byte
	claim  *Claim
	mixKey *ecdh.PrivateKey
}

func (o ownClaim) encode() []byte {
	b := make([]byte, 0, ownSize)
	b = binary.BigEndian.AppendUint64(b, uint64(o.at.UnixNano()))
	b = append(b, o.data...)
	return append(b, o.mixKey.Bytes()...)
}

func decodeOwn(b []byte) (ownClaim, error) {
	if len(b) != ownSize {
		return ownClaim{}, fmt.Errorf("lottery: stored claim has %d bytes, want %d", len(b), ownSize)
	}
	c, err := DecodeClaim(b[timeBytes : timeBytes+ClaimSize])
	if err != nil {
		return ownClaim{}, err
	}
	k, err := ecdh.X25519().NewPrivateKey(b[timeBytes+ClaimSize:])
	if err != nil {
		return ownClaim{}, fmt.Errorf("lottery: stored mix key: %w", err)
	}
	if !k.PublicKey().Equal(c.MixKey) {
		return ownClaim{}, errors.New("lottery: stored mix key does not match its claim")
	}
	return ownClaim{
		at:     time.Unix(0, int64(binary.BigEndian.Uint64(b))),
		data:   slices.Clone(b[timeBytes : timeBytes+ClaimSize]),
		claim:  c,
		mixKey: k,
	}, nil
}

// logEntry is a message as received, for replay.
type logEntry struct {
	epoch uint64
	seq   uint64
	at    time.Time
	data  []byte
}

func (l logEntry) key() datastore.Key {
	return store.Key(kindLog, fmt.Sprintf(epochPad+logIDSep+epochPad, l.epoch, l.seq))
}

func ownKey(e uint64) datastore.Key { return store.Key(kindOwn, fmt.Sprintf(epochPad, e)) }

// fingerprint identifies the network parameters a stored state belongs to;
// state stored under other parameters is discarded.
func fingerprint(cfg ServiceConfig) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(fpDomain))
	g := GenesisSeed(cfg.Config)
	h.Write(g[:])
	for _, v := range []int64{int64(cfg.EpochLength), int64(cfg.TargetRelays), int64(cfg.Layers), int64(cfg.ClaimWindow), int64(cfg.RevealWindow)} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(v)))
	}
	h.Write([]byte{byte(len(cfg.Candidates) & 0xff)})
	for _, p := range cfg.Candidates {
		h.Write([]byte(p))
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// persister reads and writes the Service's state in its Datastore.
type persister struct {
	ds      datastore.Batching
	logKeys []logEntry // stored log entries (data dropped), ascending by epoch
	ownKeys []uint64   // epochs with a stored own claim
	nextSeq uint64
}

// loaded is what load found.
type loaded struct {
	meta *meta
	own  map[uint64]ownClaim
	log  []logEntry
	bad  int // entries that did not decode and were dropped
}

// load reads the stored state. State stored for other network parameters
// is deleted.
func (p *persister) load(ctx context.Context, fp [sha256.Size]byte) (loaded, error) {
	out := loaded{own: map[uint64]ownClaim{}}
	raw, err := p.ds.Get(ctx, store.Key(kindMeta, metaID))
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		return out, fmt.Errorf("lottery: load state: %w", err)
	default:
		m, err := decodeMeta(raw)
		if err != nil || m.fingerprint != fp {
			if err := p.wipe(ctx); err != nil {
				return out, err
			}
			out.bad += boolInt(err != nil)
			return out, nil
		}
		out.meta = &m
	}
	if err := p.scan(ctx, kindOwn, func(id string, v []byte) {
		e, err := strconv.ParseUint(id, 10, 64)
		o, derr := decodeOwn(v)
		if err != nil || derr != nil || o.claim.Epoch != e {
			out.bad++
			return
		}
		out.own[e] = o
		p.ownKeys = append(p.ownKeys, e)
	}); err != nil {
		return out, err
	}
	if err := p.scan(ctx, kindLog, func(id string, v []byte) {
		es, ss, ok := strings.Cut(id, logIDSep)
		e, err1 := strconv.ParseUint(es, 10, 64)
		s, err2 := strconv.ParseUint(ss, 10, 64)
		if !ok || err1 != nil || err2 != nil || len(v) <= timeBytes {
			out.bad++
			return
		}
		l := logEntry{epoch: e, seq: s, at: time.Unix(0, int64(binary.BigEndian.Uint64(v))), data: slices.Clone(v[timeBytes:])}
		out.log = append(out.log, l)
		p.logKeys = append(p.logKeys, logEntry{epoch: e, seq: s})
		p.nextSeq = max(p.nextSeq, s+1)
	}); err != nil {
		return out, err
	}
	slices.SortFunc(p.logKeys, func(a, b logEntry) int {
		return cmp.Or(cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
	})
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scan calls f with the id and value of every key of kind.
func (p *persister) scan(ctx context.Context, kind string, f func(id string, v []byte)) error {
	res, err := p.ds.Query(ctx, query.Query{Prefix: "/" + kind})
	if err != nil {
		return fmt.Errorf("lottery: load %s: %w", kind, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("lottery: load %s: %w", kind, r.Error)
		}
		k, id, err := store.ParseKey(datastore.RawKey(r.Key))
		if err != nil || k != kind {
			continue
		}
		f(id, r.Value)
	}
	return nil
}

// wipe deletes every key of the Service.
func (p *persister) wipe(ctx context.Context) error {
	b, err := p.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("lottery: wipe state: %w", err)
	}
	for _, kind := range []string{kindMeta, kindOwn, kindLog} {
		if err := p.scan(ctx, kind, func(id string, _ []byte) {
			_ = b.Delete(ctx, store.Key(kind, id))
		}); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("lottery: wipe state: %w", err)
	}
	p.logKeys, p.ownKeys, p.nextSeq = nil, nil, 0
	return nil
}

// saveOwn writes this node's claim and mix key and syncs them. It returns
// only once they are durable: the claim may be published after that.
func (p *persister) saveOwn(ctx context.Context, o ownClaim) error {
	k := ownKey(o.claim.Epoch)
	if err := p.ds.Put(ctx, k, o.encode()); err != nil {
		return fmt.Errorf("lottery: persist claim of epoch %d: %w", o.claim.Epoch, err)
	}
	if err := p.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("lottery: persist claim of epoch %d: %w", o.claim.Epoch, err)
	}
	p.ownKeys = append(p.ownKeys, o.claim.Epoch)
	return nil
}

// flush writes entries and m in one batch (one sync) and deletes the log
// entries of epochs before m.checkpoint.Epoch and the own claims of epochs
// before keepOwn.
func (p *persister) flush(ctx context.Context, entries []logEntry, m meta, keepOwn uint64) error {
	b, err := p.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("lottery: flush: %w", err)
	}
	for _, l := range entries {
		v := binary.BigEndian.AppendUint64(make([]byte, 0, timeBytes+len(l.data)), uint64(l.at.UnixNano()))
		if err := b.Put(ctx, l.key(), append(v, l.data...)); err != nil {
			return fmt.Errorf("lottery: flush: %w", err)
		}
	}
	if err := b.Put(ctx, store.Key(kindMeta, metaID), m.encode()); err != nil {
		return fmt.Errorf("lottery: flush: %w", err)
	}
	cut := 0
	for cut < len(p.logKeys) && p.logKeys[cut].epoch < m.checkpoint.Epoch {
		if err := b.Delete(ctx, p.logKeys[cut].key()); err != nil {
			return fmt.Errorf("lottery: flush: %w", err)
		}
		cut++
	}
	var keptOwn []uint64
	for _, e := range p.ownKeys {
		if e < keepOwn {
			if err := b.Delete(ctx, ownKey(e)); err != nil {
				return fmt.Errorf("lottery: flush: %w", err)
			}
			continue
		}
		keptOwn = append(keptOwn, e)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("lottery: flush: %w", err)
	}
	p.logKeys = p.logKeys[cut:]
	for _, l := range entries {
		p.logKeys = append(p.logKeys, logEntry{epoch: l.epoch, seq: l.seq})
	}
	slices.SortStableFunc(p.logKeys, func(a, b logEntry) int { return cmp.Compare(a.epoch, b.epoch) })
	p.ownKeys = keptOwn
	return nil
}
