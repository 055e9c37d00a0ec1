package token

import (
	"bytes"
	"testing"
)

// Every decoder of the package rejects rather than panics, and what it
// accepts re-encodes to the same bytes. The committed corpora under
// testdata/fuzz hold a valid encoding of each kind and damaged ones.

func FuzzDecodeBlock(f *testing.F) {
	for _, b := range sampleBlocks() {
		f.Add(b.Encode())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBlock(in)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Encode(), in) {
			t.Fatalf("%x re-encodes as %x", in, b.Encode())
		}
		_, _ = b.Verify()
	})
}

func FuzzDecodeVote(f *testing.F) {
	v := Vote{Root: Hash{1}, Block: Hash{2}, Seq: 3}
	v.Sign(key(0))
	f.Add(v.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := DecodeVote(in)
		if err != nil {
			return
		}
		if !bytes.Equal(v.Encode(), in) {
			t.Fatalf("%x re-encodes as %x", in, v.Encode())
		}
		_ = v.Verify()
	})
}

func FuzzDecodeVoteBatch(f *testing.F) {
	b := VoteBatch{Votes: []BatchVote{{Root: Hash{1}, Block: Hash{2}, Seq: 3}, {Root: Hash{1}, Block: Hash{2}, Final: true}}}
	b.Sign(key(0))
	f.Add(b.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeVoteBatch(in)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Encode(), in) {
			t.Fatalf("%x re-encodes as %x", in, b.Encode())
		}
		_ = b.Verify()
	})
}

func FuzzDecodeProposal(f *testing.F) {
	p := Proposal{Param: "epoch_length", Value: 60, Start: 1, End: 9, ExecDelay: 1}
	p.Sign(key(0))
	f.Add(p.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodeProposal(in)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), in) {
			t.Fatalf("%x re-encodes as %x", in, p.Encode())
		}
		_ = p.Verify()
	})
}

func FuzzLoadGenesis(f *testing.F) {
	f.Add([]byte(`{"network":"n","unbonding_epochs":1,"accounts":[{"account":"` + hexAcct(0) + `","balance":5}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := LoadGenesis(bytes.NewReader(in))
		if err != nil {
			return
		}
		if _, err := NewLedger(g); err != nil {
			t.Fatalf("a loaded genesis does not make a ledger: %v", err)
		}
	})
}

// FuzzLedgerApply feeds decoded blocks to a ledger holding a few chains:
// whatever the bytes, Apply and Confirm return errors rather than panic,
// and the supply is conserved.
func FuzzLedgerApply(f *testing.F) {
	for _, b := range sampleBlocks() {
		f.Add(b.Encode(), false)
	}
	l := newLedger(f, 1000, 10)
	b, _ := NewWallet(l, key(0)).Send(acct(1), 10, 1)
	f.Add(b.Encode(), true)
	f.Fuzz(func(t *testing.T, in []byte, confirm bool) {
		l := newLedger(t, 1000, 10)
		w := NewWallet(l, key(0))
		s, _ := w.Send(acct(1), 10, 1)
		applyConfirm(t, l, s, nil)
		blk, err := DecodeBlock(in)
		if err != nil {
			return
		}
		h, err := l.Apply(blk)
		if err == nil && confirm {
			_ = l.Confirm(h)
		}
		conserved(t, l)
	})
}
