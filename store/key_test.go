package store

import (
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKey(t *testing.T) {
	tests := []struct {
		kind, id string
		want     string
	}{
		{"ban", "12D3KooWabc", "/ban/12D3KooWabc"},
		{"task", "0a1b-2c_3.d~", "/task/0a1b-2c_3.d~"},
		{"rec", "a/b", "/rec/a%2Fb"},
		{"rec", "../../p2p/ban", "/rec/..%2F..%2Fp2p%2Fban"},
		{"rec", "..", "/rec/%2E%2E"},
		{"rec", ".", "/rec/%2E"},
		{"rec", "", "/rec/%"},
		{"", "x", "/%/x"},
		{"rec", "100%", "/rec/100%25"},
		{"rec", "a b\x00\xff", "/rec/a%20b%00%FF"},
		{"chan", "#général", "/chan/%23g%C3%A9n%C3%A9ral"},
	}
	for _, tc := range tests {
		k := Key(tc.kind, tc.id)
		assert.Equal(t, tc.want, k.String(), "Key(%q, %q)", tc.kind, tc.id)
		// Cleaning the key (as go-datastore does) must not change it.
		assert.Equal(t, k.String(), datastore.NewKey(k.String()).String())
		kind, id, err := ParseKey(k)
		require.NoError(t, err)
		assert.Equal(t, tc.kind, kind)
		assert.Equal(t, tc.id, id)

		abs := PrefixDHT.Key(tc.kind, tc.id)
		assert.Equal(t, "/dht"+tc.want, abs.String())
		kind, id, err = ParseKey(abs)
		require.NoError(t, err)
		assert.Equal(t, tc.kind, kind)
		assert.Equal(t, tc.id, id)
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, k := range []string{"/", "/only", "/a/%zz", "/%zz/a", "/a/%2"} {
		_, _, err := ParseKey(datastore.RawKey(k))
		assert.ErrorIs(t, err, ErrBadKey, k)
	}
	_, _, err := ParseKey(datastore.RawKey("/./a/b"))
	assert.NoError(t, err, "only the last two segments count")
	_, _, err = ParseKey(datastore.RawKey("/a/."))
	assert.ErrorIs(t, err, ErrBadKey)
}

func TestPrefixes(t *testing.T) {
	// The subsystems' prefixes are distinct, clean, single segments, and
	// none is a byte prefix of another's children.
	all := []Prefix{PrefixP2P, PrefixDHT, PrefixCompute, PrefixChat, PrefixToken, PrefixNode}
	seen := map[Prefix]bool{}
	for _, p := range all {
		assert.False(t, seen[p], "duplicate %s", p)
		seen[p] = true
		k := datastore.NewKey(string(p))
		assert.Equal(t, string(p), k.String())
		assert.Len(t, k.Namespaces(), 1)
	}
}

// FuzzKey checks that any kind and id, such as ids from the network, make a
// key that cleaning leaves alone, that stays two segments deep, and that
// ParseKey reads back exactly.
func FuzzKey(f *testing.F) {
	f.Add("ban", "12D3KooWabc")
	f.Add("rec", "../x")
	f.Add("", "")
	f.Add(".", "..")
	f.Add("%", "%2F")
	f.Fuzz(func(t *testing.T, kind, id string) {
		k := Key(kind, id)
		if got := datastore.NewKey(k.String()).String(); got != k.String() {
			t.Fatalf("Key(%q, %q) = %q is changed by cleaning to %q", kind, id, k, got)
		}
		if n := len(k.Namespaces()); n != 2 {
			t.Fatalf("Key(%q, %q) = %q has %d segments", kind, id, k, n)
		}
		gotKind, gotID, err := ParseKey(k)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", k, err)
		}
		if gotKind != kind || gotID != id {
			t.Fatalf("ParseKey(Key(%q, %q)) = %q, %q", kind, id, gotKind, gotID)
		}
	})
}

// FuzzParseKey feeds ParseKey arbitrary keys: it must not panic, and what it
// accepts must be what Key would have made (up to escaping choices).
func FuzzParseKey(f *testing.F) {
	f.Add("/ban/12D3KooWabc")
	f.Add("/dht/rec/a%2Fb")
	f.Add("/rec/%")
	f.Add("/a/%zz")
	f.Add("/")
	f.Fuzz(func(t *testing.T, s string) {
		k := datastore.NewKey(s)
		kind, id, err := ParseKey(k)
		if err != nil {
			return
		}
		again, again2, err := ParseKey(Key(kind, id))
		if err != nil || again != kind || again2 != id {
			t.Fatalf("ParseKey(%q) = %q, %q does not round-trip: %q, %q, %v", k, kind, id, again, again2, err)
		}
	})
}
