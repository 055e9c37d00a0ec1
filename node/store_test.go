package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// TestStartRefusesDamagedStore damages a stopped node's store: Start
// refuses to run on it, naming the file and `fog repair`, and after
// RepairStore the node starts with every record that verified.
func TestStartRefusesDamagedStore(t *testing.T) {
	n := startTestNode(t, nil)
	ctx := context.Background()
	ds := n.Store().Datastore(store.PrefixCompute)
	const records = 300
	for i := range records {
		require.NoError(t, ds.Put(ctx, store.Key("rec", fmt.Sprint(i)), []byte(fmt.Sprintf("record %d %0200d", i, i))))
	}
	require.NoError(t, n.Close()) // flushes the records into a table
	ssts, err := filepath.Glob(filepath.Join(n.dir.Store(), "*.sst"))
	require.NoError(t, err)
	require.NotEmpty(t, ssts)
	require.NoError(t, os.Remove(filepath.Join(n.dir.Store(), "MANIFEST")))

	p2pc, dhtc, gc := p2p.TestConfig(), dht.TestConfig(), gossip.TestConfig()
	opts := Options{Dir: n.dir, P2P: &p2pc, DHT: &dhtc, Gossip: &gc, Supervisor: TestSupervisorConfig(),
		Logger: NewLogger(io.Discard, n.cfg.Log)}
	_, err = Start(ctx, n.cfg, opts)
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Join(n.dir.Store(), "MANIFEST"))
	assert.Contains(t, err.Error(), "fog repair --path "+string(n.dir))
	left, err := filepath.Glob(filepath.Join(n.dir.Store(), "*.sst"))
	require.NoError(t, err)
	assert.Equal(t, ssts, left, "a refused start deletes nothing")

	rep, err := RepairStore(ctx, n.dir, n.cfg, store.RepairOptions{}, nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, rep.Kept["/compute"], records)
	assert.Zero(t, rep.LostTotal())
	assert.DirExists(t, rep.Backup)

	n2 := startAt(t, n.dir, n.cfg)
	got, err := n2.Store().Datastore(store.PrefixCompute).Get(ctx, store.Key("rec", "7"))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("record 7 %0200d", 7), string(got))
}
