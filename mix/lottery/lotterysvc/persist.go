package lotterysvc

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

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/store"
)

// What the Service keeps in its store, under the Datastore the node gives it
// (keys /<kind>/<id>, as store.Key builds them):
//
//	/meta/state              fingerprint, checkpoint, listening span, trust
//	/claim/<epoch>           this node's claim and mix private key (synced before publishing)
//	/log/<epoch>.<seq>       a message the State or the candidate book took, with its receive time
//
// The Node's effects say what to write: a lottery.Record goes to the log,
// the OwnClaim of a lottery.PublishClaim is written and synced before the
// claim is published, and the Node's Snapshot is the meta. After a restart
// the Service hands them back to Node.Start, which replays them (the Node
// is deterministic), so it rebuilds the directories, seed and candidate
// sets it had, and never draws a second ticket for an epoch it already
// claimed.
const (
	kindMeta  = "meta"
	kindOwn   = "claim"
	kindLog   = "log"
	metaID    = "state"
	metaSize  = 1 + sha256.Size + 8 + lottery.SeedSize + 8 + 8 + 1
	metaVer   = 1
	ownSize   = 8 + lottery.ClaimSize + 32
	epochPad  = "%020d"
	logIDSep  = "."
	fpDomain  = "fog/lottery/persist/v1"
	timeBytes = 8
)

// encodeMeta encodes the Node's snapshot with the fingerprint of the
// network parameters.
func encodeMeta(fp [sha256.Size]byte, m lottery.Snapshot) []byte {
	b := make([]byte, 0, metaSize)
	b = append(b, metaVer)
	b = append(b, fp[:]...)
	b = binary.BigEndian.AppendUint64(b, m.Checkpoint.Epoch)
	b = append(b, m.Checkpoint.Seed[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Since.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Alive.UnixNano()))
	if m.Confirmed {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeMeta(b []byte) ([sha256.Size]byte, lottery.Snapshot, error) {
	var fp [sha256.Size]byte
	var m lottery.Snapshot
	if len(b) != metaSize || b[0] != metaVer {
		return fp, m, fmt.Errorf("lotterysvc: stored state: %d bytes, version %d", len(b), firstByte(b))
	}
	off := 1
	copy(fp[:], b[off:])
	off += sha256.Size
	m.Checkpoint.Epoch = binary.BigEndian.Uint64(b[off:])
	off += 8
	copy(m.Checkpoint.Seed[:], b[off:])
	off += lottery.SeedSize
	m.Since = time.Unix(0, int64(binary.BigEndian.Uint64(b[off:])))
	off += 8
	m.Alive = time.Unix(0, int64(binary.BigEndian.Uint64(b[off:])))
	off += 8
	m.Confirmed = b[off] == 1
	return fp, m, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// encodeOwn encodes a claim this node published, with its mix key.
func encodeOwn(o lottery.OwnClaim) []byte {
	b := make([]byte, 0, ownSize)
	b = binary.BigEndian.AppendUint64(b, uint64(o.At.UnixNano()))
	b = append(b, o.Data...)
	return append(b, o.MixKey.Bytes()...)
}

func decodeOwn(b []byte) (lottery.OwnClaim, error) {
	const cs = lottery.ClaimSize
	if len(b) != ownSize {
		return lottery.OwnClaim{}, fmt.Errorf("lotterysvc: stored claim has %d bytes, want %d", len(b), ownSize)
	}
	c, err := lottery.DecodeClaim(b[timeBytes : timeBytes+cs])
	if err != nil {
		return lottery.OwnClaim{}, err
	}
	k, err := ecdh.X25519().NewPrivateKey(b[timeBytes+cs:])
	if err != nil {
		return lottery.OwnClaim{}, fmt.Errorf("lotterysvc: stored mix key: %w", err)
	}
	if !k.PublicKey().Equal(c.MixKey) {
		return lottery.OwnClaim{}, errors.New("lotterysvc: stored mix key does not match its claim")
	}
	return lottery.OwnClaim{
		At:     time.Unix(0, int64(binary.BigEndian.Uint64(b))),
		Data:   slices.Clone(b[timeBytes : timeBytes+cs]),
		Claim:  c,
		MixKey: k,
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
func fingerprint(cfg lottery.ServiceConfig) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(fpDomain))
	g := lottery.GenesisSeed(cfg.Config)
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
	fp      [sha256.Size]byte // fingerprint of the network parameters, written with the meta
	logKeys []logEntry        // stored log entries (data dropped), ascending by epoch
	ownKeys []uint64          // epochs with a stored own claim
	nextSeq uint64
}

// load reads the stored state for Node.Start, and counts the entries that
// did not decode and were dropped. State stored for other network
// parameters (another fingerprint than p.fp) is deleted.
func (p *persister) load(ctx context.Context) (out lottery.Saved, bad int, err error) {
	raw, err := p.ds.Get(ctx, store.Key(kindMeta, metaID))
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		return out, 0, fmt.Errorf("lotterysvc: load state: %w", err)
	default:
		sfp, m, err := decodeMeta(raw)
		if err != nil || sfp != p.fp {
			if err := p.wipe(ctx); err != nil {
				return out, 0, err
			}
			return out, boolInt(err != nil), nil
		}
		out.Snapshot = &m
	}
	if err := p.scan(ctx, kindOwn, func(id string, v []byte) {
		e, err := strconv.ParseUint(id, 10, 64)
		o, derr := decodeOwn(v)
		if err != nil || derr != nil || o.Claim.Epoch != e {
			bad++
			return
		}
		out.Own = append(out.Own, o)
		p.ownKeys = append(p.ownKeys, e)
	}); err != nil {
		return out, bad, err
	}
	var log []logEntry
	if err := p.scan(ctx, kindLog, func(id string, v []byte) {
		es, ss, ok := strings.Cut(id, logIDSep)
		e, err1 := strconv.ParseUint(es, 10, 64)
		s, err2 := strconv.ParseUint(ss, 10, 64)
		if !ok || err1 != nil || err2 != nil || len(v) <= timeBytes {
			bad++
			return
		}
		l := logEntry{epoch: e, seq: s, at: time.Unix(0, int64(binary.BigEndian.Uint64(v))), data: slices.Clone(v[timeBytes:])}
		log = append(log, l)
		p.logKeys = append(p.logKeys, logEntry{epoch: e, seq: s})
		p.nextSeq = max(p.nextSeq, s+1)
	}); err != nil {
		return out, bad, err
	}
	// The Node replays records in the order it emitted them.
	slices.SortFunc(log, func(a, b logEntry) int { return cmp.Compare(a.seq, b.seq) })
	for _, l := range log {
		out.Log = append(out.Log, lottery.Record{Epoch: l.epoch, At: l.at, Data: l.data})
	}
	slices.SortFunc(p.logKeys, func(a, b logEntry) int {
		return cmp.Or(cmp.Compare(a.epoch, b.epoch), cmp.Compare(a.seq, b.seq))
	})
	return out, bad, nil
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
		return fmt.Errorf("lotterysvc: load %s: %w", kind, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("lotterysvc: load %s: %w", kind, r.Error)
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
		return fmt.Errorf("lotterysvc: wipe state: %w", err)
	}
	for _, kind := range []string{kindMeta, kindOwn, kindLog} {
		if err := p.scan(ctx, kind, func(id string, _ []byte) {
			_ = b.Delete(ctx, store.Key(kind, id))
		}); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("lotterysvc: wipe state: %w", err)
	}
	p.logKeys, p.ownKeys, p.nextSeq = nil, nil, 0
	return nil
}

// saveOwn writes this node's claim and mix key and syncs them. It returns
// only once they are durable: the claim may be published after that.
func (p *persister) saveOwn(ctx context.Context, o lottery.OwnClaim) error {
	e := o.Claim.Epoch
	k := ownKey(e)
	if err := p.ds.Put(ctx, k, encodeOwn(o)); err != nil {
		return fmt.Errorf("lotterysvc: persist claim of epoch %d: %w", e, err)
	}
	if err := p.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("lotterysvc: persist claim of epoch %d: %w", e, err)
	}
	p.ownKeys = append(p.ownKeys, e)
	return nil
}

// flush writes entries and the meta (the fingerprint and m) in one batch
// (one sync) and deletes the log entries of epochs before
// m.Checkpoint.Epoch and the own claims of epochs before m.OwnFrom().
func (p *persister) flush(ctx context.Context, entries []logEntry, m lottery.Snapshot) error {
	keepOwn := m.OwnFrom()
	b, err := p.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("lotterysvc: flush: %w", err)
	}
	for _, l := range entries {
		v := binary.BigEndian.AppendUint64(make([]byte, 0, timeBytes+len(l.data)), uint64(l.at.UnixNano()))
		if err := b.Put(ctx, l.key(), append(v, l.data...)); err != nil {
			return fmt.Errorf("lotterysvc: flush: %w", err)
		}
	}
	if err := b.Put(ctx, store.Key(kindMeta, metaID), encodeMeta(p.fp, m)); err != nil {
		return fmt.Errorf("lotterysvc: flush: %w", err)
	}
	cut := 0
	for cut < len(p.logKeys) && p.logKeys[cut].epoch < m.Checkpoint.Epoch {
		if err := b.Delete(ctx, p.logKeys[cut].key()); err != nil {
			return fmt.Errorf("lotterysvc: flush: %w", err)
		}
		cut++
	}
	var keptOwn []uint64
	for _, e := range p.ownKeys {
		if e < keepOwn {
			if err := b.Delete(ctx, ownKey(e)); err != nil {
				return fmt.Errorf("lotterysvc: flush: %w", err)
			}
			continue
		}
		keptOwn = append(keptOwn, e)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("lotterysvc: flush: %w", err)
	}
	p.logKeys = p.logKeys[cut:]
	for _, l := range entries {
		p.logKeys = append(p.logKeys, logEntry{epoch: l.epoch, seq: l.seq})
	}
	slices.SortStableFunc(p.logKeys, func(a, b logEntry) int { return cmp.Compare(a.epoch, b.epoch) })
	p.ownKeys = keptOwn
	return nil
}
