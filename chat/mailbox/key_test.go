package mailbox

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDayOf(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want Day
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(86399, 999), 0},
		{time.Unix(86400, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Unix(-86400, 0), -1},
		{time.Unix(-86401, 0), -2},
		{time.Date(2026, 3, 1, 23, 59, 59, 0, time.FixedZone("x", -5*3600)), DayOf(time.Date(2026, 3, 2, 4, 59, 59, 0, time.UTC))},
	} {
		assert.Equal(t, tc.want, DayOf(tc.t), "%v", tc.t)
	}
	d := DayOf(time.Date(2026, 5, 17, 13, 0, 0, 0, time.UTC))
	assert.Equal(t, time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC), d.Start())
	assert.Equal(t, d, DayOf(d.Start()))
	assert.Equal(t, d-1, DayOf(d.Start().Add(-time.Nanosecond)))
}

func TestMailboxKey(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	day := Day(20000)
	k := MailboxKey(a.id, day)
	assert.Equal(t, k, MailboxKey(a.id, day), "deterministic")
	assert.NotEqual(t, k, MailboxKey(a.id, day+1), "changes daily")
	assert.NotEqual(t, k, MailboxKey(b.id, day), "differs per owner")

	// a fixed vector (computed independently, with Python's hashlib), so
	// the derivation cannot change unnoticed
	id, err := peer.Decode("12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq")
	require.NoError(t, err)
	got := MailboxKey(id, 20000)
	assert.Equal(t, "c4cc78c80edf7eb02908f0d8a0a7b15cc3889c9742952f2023f2e1369c1d1d10", got.String())
}
