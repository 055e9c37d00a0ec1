package ledgersvc

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/token"
)

func sampleSync(t testing.TB) ([]SyncRequest, []SyncResponse) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	acct := token.AccountOf(key.Public().(ed25519.PublicKey))
	b := token.Block{Kind: token.KindSend, Account: acct, Previous: token.Hash{1}, Representative: token.Account{2}, Balance: 5, Link: [32]byte{3}, Epoch: 9}
	b.Sign(key)
	v := token.Vote{Root: token.Hash{1}, Block: b.Hash(), Final: true}
	v.Sign(key)
	props := make([]token.Proposal, 2)
	for i := range props {
		props[i] = token.Proposal{Param: token.ParamTargetRelays, Value: uint64(20 + i), Start: 3, End: 4, ExecDelay: 2}
		props[i].Sign(key)
	}
	if a, b := props[0].ID(), props[1].ID(); bytes.Compare(a[:], b[:]) > 0 {
		props[0], props[1] = props[1], props[0]
	}
	reqs := []SyncRequest{
		{Kind: SyncFrontiers},
		{Kind: SyncFrontiers, After: [32]byte{9}},
		{Kind: SyncChain, Account: acct},
		{Kind: SyncChain, Account: acct, After: b.Hash()},
		{Kind: SyncProposals},
		{Kind: SyncProposals, After: props[0].ID()},
	}
	resps := []SyncResponse{
		{Kind: SyncFrontiers, Frontiers: []token.Frontier{}},
		{Kind: SyncFrontiers, Frontiers: []token.Frontier{{Account: token.Account{1}, Head: token.Hash{2}, Height: 3}, {Account: acct, Head: b.Hash(), Height: 1}}},
		{Kind: SyncChain, Blocks: []SyncBlock{}},
		{Kind: SyncChain, Blocks: []SyncBlock{{Block: b, Vote: &v}, {Block: b}}},
		{Kind: SyncProposals, Proposals: []token.Proposal{}},
		{Kind: SyncProposals, Proposals: props},
	}
	return reqs, resps
}

func TestSyncWireRoundTrip(t *testing.T) {
	reqs, resps := sampleSync(t)
	for _, r := range reqs {
		got, err := DecodeSyncRequest(r.Encode())
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
	for _, r := range resps {
		enc, err := r.Encode()
		require.NoError(t, err)
		got, err := DecodeSyncResponse(enc)
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
	_, err := (&SyncResponse{Kind: SyncChain, Blocks: make([]SyncBlock, MaxSyncBlocks+1)}).Encode()
	require.ErrorIs(t, err, ErrMalformed)
	_, err = (&SyncResponse{Kind: SyncProposals, Proposals: make([]token.Proposal, MaxSyncProposals+1)}).Encode()
	require.ErrorIs(t, err, ErrMalformed)
	_, err = (&SyncResponse{Kind: 7}).Encode()
	require.ErrorIs(t, err, ErrMalformed)

	req := reqs[3].Encode()
	fr, err := resps[1].Encode()
	require.NoError(t, err)
	ch, err := resps[3].Encode()
	require.NoError(t, err)
	pr, err := resps[5].Encode()
	require.NoError(t, err)
	one := len(resps[5].Proposals[0].Encode())
	swapped, err := (&SyncResponse{Kind: SyncProposals, Proposals: []token.Proposal{resps[5].Proposals[1], resps[5].Proposals[0]}}).Encode()
	require.NoError(t, err)
	set := func(p []byte, off int, v byte) []byte { c := bytes.Clone(p); c[off] = v; return c }
	for name, in := range map[string][]byte{
		"empty":        nil,
		"version":      set(req, 0, 2),
		"kind":         set(req, 1, 9),
		"short":        req[:len(req)-1],
		"trailing":     append(bytes.Clone(req), 0),
		"zero account": append([]byte{syncVersion, SyncChain}, make([]byte, 64)...),
	} {
		_, err := DecodeSyncRequest(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	for name, in := range map[string][]byte{
		"empty":                   nil,
		"version":                 set(fr, 0, 2),
		"kind":                    set(fr, 1, 9),
		"count":                   set(fr, 3, 3),
		"unordered":               append(append(bytes.Clone(fr[:4]), fr[4+frontierSize:]...), fr[4:4+frontierSize]...),
		"zero height":             set(fr, 4+frontierSize-1, 0),
		"too many":                set(set(fr, 2, 0xff), 3, 0xff),
		"truncated block":         ch[:len(ch)-token.VoteSize-2],
		"vote flag":               set(ch, 4+2+token.BlockSize, 2),
		"block length":            set(ch, 5, 0),
		"trailing":                append(bytes.Clone(ch), 0),
		"bad vote":                set(ch, 4+2+token.BlockSize+1, 9),
		"proposals out of order":  swapped,
		"proposal length":         set(pr, 5, byte(one+1)),
		"proposal cut":            pr[:len(pr)-1],
		"proposal trailing":       append(bytes.Clone(pr), 0),
		"proposal version":        set(pr, 6, 2),
		"too many proposals":      set(pr, 3, MaxSyncProposals+1),
		"proposal name too short": set(pr, 6+33, 0),
	} {
		_, err := DecodeSyncResponse(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func FuzzDecodeSyncRequest(f *testing.F) {
	reqs, _ := sampleSync(f)
	for _, r := range reqs {
		f.Add(r.Encode())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeSyncRequest(in)
		if err != nil {
			return
		}
		if enc := r.Encode(); !bytes.Equal(enc, in) {
			t.Fatalf("%x re-encodes as %x", in, enc)
		}
	})
}

func FuzzDecodeSyncResponse(f *testing.F) {
	_, resps := sampleSync(f)
	for _, r := range resps {
		enc, err := r.Encode()
		require.NoError(f, err)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeSyncResponse(in)
		if err != nil {
			return
		}
		enc, err := r.Encode()
		if err != nil || !bytes.Equal(enc, in) {
			t.Fatalf("%x re-encodes as %x (%v)", in, enc, err)
		}
	})
}
