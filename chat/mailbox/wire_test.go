package mailbox

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleRequests are one valid request of each kind, signed by owner for
// host.
func sampleRequests(t testing.TB) []request {
	owner, host := newIdentity(t), newIdentity(t)
	day := Day(20000)
	key := MailboxKey(owner.id, day)
	now := day.Start().Add(time.Hour)
	fetch := request{op: opFetch, key: key, day: day, after: ItemID{1}}
	require.NoError(t, fetch.sign(owner.priv, host.id, now))
	ack := request{op: opAck, key: key, day: day, ids: []ItemID{{1}, {2}, {3}}}
	require.NoError(t, ack.sign(owner.priv, host.id, now))
	return []request{
		{op: opDeposit, key: key, id: ItemID{9}, expires: expiresOf(now.Add(7 * 24 * time.Hour)), sealed: bytes.Repeat([]byte{7}, SealOverhead+5)},
		fetch,
		ack,
	}
}

func sampleResponses() []response {
	return []response{
		{status: statusOK},
		{status: statusOK, deleted: 3},
		{status: statusOK, more: true, items: []item{{ItemID{1}, make([]byte, SealOverhead)}, {ItemID{2}, make([]byte, 100)}}},
		{status: statusDenied},
		{status: statusBusy},
		{status: statusExists},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range sampleRequests(t) {
		b := r.marshal()
		got, err := decodeRequest(b)
		require.NoError(t, err)
		assert.Equal(t, b, got.marshal())
		assert.Equal(t, r.op, got.op)
		assert.Equal(t, r.key, got.key)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range sampleResponses() {
		b := r.marshal()
		got, err := decodeResponse(b)
		require.NoError(t, err)
		assert.Equal(t, b, got.marshal())
		assert.Equal(t, r.status, got.status)
		assert.Equal(t, len(r.items), len(got.items))
	}
}

func TestDecodeRejects(t *testing.T) {
	reqs := sampleRequests(t)
	dep, fetch, ack := reqs[0].marshal(), reqs[1].marshal(), reqs[2].marshal()
	big := request{op: opDeposit, expires: 1, sealed: make([]byte, MaxItemLimit+1)}
	withExpiry := func(e uint64) []byte {
		r := reqs[0]
		r.expires = e
		return r.marshal()
	}
	noIDs := reqs[2]
	noIDs.ids = nil
	tooMany := reqs[2]
	tooMany.ids = make([]ItemID, MaxAckIDs+1)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown op", append([]byte{9}, dep[1:]...)},
		{"zero op", append([]byte{0}, dep[1:]...)},
		{"deposit truncated", dep[:len(dep)-1]},
		{"deposit trailing", append(bytes.Clone(dep), 0)},
		{"deposit item too large", big.marshal()},
		{"deposit item shorter than a seal", (&request{op: opDeposit, expires: 1, sealed: []byte{1}}).marshal()},
		{"deposit without expiry", withExpiry(0)},
		{"deposit expiry beyond any time", withExpiry(maxExpires + 1)},
		{"fetch without signature", fetch[:len(fetch)-64]},
		{"fetch signature short", fetch[:len(fetch)-1]},
		{"fetch trailing", append(bytes.Clone(fetch), 0)},
		{"ack without ids", append(noIDs.unsigned(), make([]byte, 64)...)},
		{"ack with too many ids", append(tooMany.unsigned(), make([]byte, 64)...)},
		{"ack truncated", ack[:len(ack)-70]},
		{"too long", make([]byte, MaxRequestLen+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRequest(tc.b)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	ok := sampleResponses()[2].marshal()
	unordered := response{status: statusOK, items: []item{{ItemID{2}, make([]byte, SealOverhead)}, {ItemID{1}, make([]byte, SealOverhead)}}}
	dup := response{status: statusOK, items: []item{{ItemID{1}, make([]byte, SealOverhead)}, {ItemID{1}, make([]byte, SealOverhead)}}}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"zero status", []byte{0}},
		{"unknown status", []byte{byte(maxStatus) + 1}},
		{"refusal with fields", []byte{byte(statusDenied), 0}},
		{"bad flags", append([]byte{1, 2}, ok[2:]...)},
		{"truncated", ok[:len(ok)-1]},
		{"trailing", append(bytes.Clone(ok), 0)},
		{"ids not ascending", unordered.marshal()},
		{"ids repeated", dup.marshal()},
		{"count beyond the bytes", []byte{1, 0, 0x80, 0x80, 0x04, 0}},
		{"deleted above MaxAckIDs", (&response{status: statusOK, deleted: MaxAckIDs + 1}).marshal()},
	} {
		t.Run("response "+tc.name, func(t *testing.T) {
			_, err := decodeResponse(tc.b)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, writeFrame(&buf, []byte("hello")))
	got, err := readFrame(&buf, 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))

	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"above the limit", binary.AppendUvarint(nil, 6)},
		{"length not minimal", []byte{0x85, 0x00}},
		{"length too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(append(tc.b, "hello!"...)), 5)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err = readFrame(bytes.NewReader([]byte{5, 'a'}), 5)
	require.Error(t, err, "cut short")
	_, err = readFrame(bytes.NewReader(nil), 5)
	require.Error(t, err, "nothing")
}
