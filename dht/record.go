package dht

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/internal/binenc"
)

// Namespace is the DHT key namespace of fog's signed records: a record's key
// is /fog/<owner peer id>/<name>.
const Namespace = "fog"

// Limits on records, so that a peer cannot make us store or verify
// arbitrarily large data.
const (
	// MaxNameLen bounds a record's name.
	MaxNameLen = 128
	// MaxValueLen bounds a record's value.
	MaxValueLen = 8 << 10
	// MaxRecordLen bounds an encoded record: header, value and signature.
	MaxRecordLen = MaxValueLen + 256
	// maxSigLen bounds a record's signature (an Ed25519 one takes 64 bytes).
	maxSigLen = 256
)

// Errors a record can be rejected with.
var (
	// ErrBadRecord means the record does not decode.
	ErrBadRecord = errors.New("dht: malformed record")
	// ErrBadKey means the key is not /fog/<peer id>/<name>.
	ErrBadKey = errors.New("dht: malformed record key")
	// ErrBadSignature means the record is not signed by the peer its key
	// names.
	ErrBadSignature = errors.New("dht: record not signed by its owner")
	// ErrStale means a record with an equal or higher sequence is known.
	ErrStale = errors.New("dht: record sequence is not newer")
)

// recordMagic starts every encoded record; it names the format version.
var recordMagic = []byte("fogrec1\x00")

// sigDomain separates record signatures from every other use of the key.
const sigDomain = "fog/dht/record/v1\x00"

// Record is a value published under /fog/<owner>/<name>, signed by the
// owner's identity key. A higher Seq replaces a lower one.
type Record struct {
	// Owner is the peer whose key signed the record.
	Owner peer.ID
	// Name is the record's name under its owner.
	Name string
	// Seq orders versions of the record; higher wins.
	Seq uint64
	// Value is the payload.
	Value []byte
	// Sig is Owner's signature over the domain, key, Seq and Value.
	Sig []byte
}

// Key returns the record's DHT key, /fog/<owner>/<name>.
func (r Record) Key() string { return RecordKey(r.Owner, r.Name) }

// RecordKey returns the DHT key of owner's record name.
func RecordKey(owner peer.ID, name string) string {
	return "/" + Namespace + "/" + owner.String() + "/" + name
}

// ParseRecordKey splits /fog/<owner>/<name>.
func ParseRecordKey(key string) (peer.ID, string, error) {
	rest, ok := strings.CutPrefix(key, "/"+Namespace+"/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q: want /%s/<peer id>/<name>", ErrBadKey, key, Namespace)
	}
	idStr, name, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q: no name", ErrBadKey, key)
	}
	if err := ValidateName(name); err != nil {
		return "", "", err
	}
	id, err := peer.Decode(idStr)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %v", ErrBadKey, key, err)
	}
	return id, name, nil
}

// ValidateName checks a record name: 1 to MaxNameLen printable ASCII bytes
// other than space.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1 to %d bytes", ErrBadKey, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: name %q: byte %d is not printable ASCII", ErrBadKey, name, i)
		}
	}
	return nil
}

func signedBytes(key string, seq uint64, value []byte) []byte {
	b := make([]byte, 0, len(sigDomain)+len(key)+binary.MaxVarintLen64*2+len(value))
	b = append(b, sigDomain...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, value...)
}

// SignRecord builds and signs the record name=value at seq with priv.
func SignRecord(priv crypto.PrivKey, name string, seq uint64, value []byte) (Record, error) {
	if err := ValidateName(name); err != nil {
		return Record{}, err
	}
	if len(value) > MaxValueLen {
		return Record{}, fmt.Errorf("%w: value is %d bytes, limit %d", ErrBadRecord, len(value), MaxValueLen)
	}
	owner, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return Record{}, fmt.Errorf("dht: sign record: %w", err)
	}
	r := Record{Owner: owner, Name: name, Seq: seq, Value: bytes.Clone(value)}
	r.Sig, err = priv.Sign(signedBytes(r.Key(), seq, value))
	if err != nil {
		return Record{}, fmt.Errorf("dht: sign record: %w", err)
	}
	return r, nil
}

// Marshal encodes the record's value part (the key travels separately):
// magic, uvarint seq, uvarint len + value, uvarint len + signature.
func (r Record) Marshal() []byte {
	b := make([]byte, 0, len(recordMagic)+3*binary.MaxVarintLen64+len(r.Value)+len(r.Sig))
	b = append(b, recordMagic...)
	b = binary.AppendUvarint(b, r.Seq)
	b = binenc.AppendBytes(b, r.Value)
	return binenc.AppendBytes(b, r.Sig)
}

// DecodeRecord decodes and verifies the record stored under key. It never
// panics; any defect is an error wrapping ErrBadKey, ErrBadRecord or
// ErrBadSignature.
func DecodeRecord(key string, data []byte) (Record, error) {
	owner, name, err := ParseRecordKey(key)
	if err != nil {
		return Record{}, err
	}
	if len(data) > MaxRecordLen {
		return Record{}, fmt.Errorf("%w: %d bytes, limit %d", ErrBadRecord, len(data), MaxRecordLen)
	}
	rest, ok := bytes.CutPrefix(data, recordMagic)
	if !ok {
		return Record{}, fmt.Errorf("%w: bad magic", ErrBadRecord)
	}
	// Varints must be minimal, so that a record has one encoding.
	d := binenc.NewReader(rest, ErrBadRecord)
	seq := d.Uvarint()
	value := d.Bytes()
	sig := d.Bytes()
	d.End()
	switch {
	case d.Err() != nil:
		return Record{}, d.Err()
	case len(value) > MaxValueLen:
		return Record{}, fmt.Errorf("%w: value is %d bytes, limit %d", ErrBadRecord, len(value), MaxValueLen)
	case len(sig) > maxSigLen:
		return Record{}, fmt.Errorf("%w: signature is %d bytes, limit %d", ErrBadRecord, len(sig), maxSigLen)
	}
	pub, err := owner.ExtractPublicKey()
	if err != nil {
		return Record{}, fmt.Errorf("%w: owner %s has no inline public key: %v", ErrBadSignature, owner, err)
	}
	okSig, err := pub.Verify(signedBytes(key, seq, value), sig)
	if err != nil || !okSig {
		return Record{}, fmt.Errorf("%w: %s", ErrBadSignature, key)
	}
	return Record{Owner: owner, Name: name, Seq: seq, Value: bytes.Clone(value), Sig: bytes.Clone(sig)}, nil
}

// Validator is the libp2p record validator of the /fog namespace: a record
// is valid only if it decodes and is signed by the peer its key names, and
// of several records the highest sequence wins (ties broken by the smaller
// encoding, so every node picks the same one).
type Validator struct{}

// Validate implements record.Validator.
func (Validator) Validate(key string, value []byte) error {
	_, err := DecodeRecord(key, value)
	return err
}

// Select implements record.Validator: the index of the best valid record.
func (Validator) Select(key string, values [][]byte) (int, error) {
	best := -1
	var bestRec Record
	for i, v := range values {
		r, err := DecodeRecord(key, v)
		if err != nil {
			continue
		}
		if best < 0 || r.Seq > bestRec.Seq || (r.Seq == bestRec.Seq && bytes.Compare(v, values[best]) < 0) {
			best, bestRec = i, r
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no valid record among %d", ErrBadRecord, len(values))
	}
	return best, nil
}
