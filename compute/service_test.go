package compute_test

import (
	"context"
	"testing"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/store"
)

func TestServiceLifecycle(t *testing.T) {
	ctx := testCtx(t)
	mn := mocknet.New()
	defer mn.Close()
	h, err := mn.GenPeer()
	require.NoError(t, err)
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	defer db.Close()
	bs, err := blob.New(blob.TestConfig(), blob.Options{Host: h})
	require.NoError(t, err)
	defer bs.Close()
	exec, err := wasm.New(ctx, wasm.TestConfig())
	require.NoError(t, err)
	defer exec.Close()
	opts := compute.Options{Host: h, DB: db, Blob: bs, Executor: exec}

	// Options and config are checked.
	for name, o := range map[string]compute.Options{
		"no host":     {DB: db, Blob: bs, Executor: exec},
		"no store":    {Host: h, Blob: bs, Executor: exec},
		"no blob":     {Host: h, DB: db, Executor: exec},
		"no executor": {Host: h, DB: db, Blob: bs},
	} {
		_, err := compute.New(ctx, compute.TestConfig(), o)
		assert.ErrorIs(t, err, compute.ErrConfig, name)
	}
	_, err = compute.New(ctx, compute.DefaultConfig(), opts)
	require.ErrorIs(t, err, compute.ErrConfig)
	assert.Contains(t, err.Error(), "largest value", "DefaultConfig's limits need an on-disk store")
	bad := compute.TestConfig()
	bad.Cores = 0
	_, err = compute.New(ctx, bad, opts)
	assert.ErrorIs(t, err, compute.ErrConfig)

	svc, err := compute.New(ctx, compute.TestConfig(), opts)
	require.NoError(t, err)
	assert.Equal(t, "compute", svc.Name())
	assert.ErrorIs(t, svc.Health(ctx), compute.ErrNotRunning)

	// A task submitted before Run waits in the queue.
	id, err := svc.Submit(ctx, compute.Spec{Args: []string{"echo.wasm", "x"}, Stdin: []byte("early")}, module(t, "echo"))
	require.NoError(t, err)
	st, err := svc.Status(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateQueued, st.State)
	assert.Equal(t, "echo.wasm", st.Name, "the program's name is its args[0]")
	// Spec gives the spec as resolved: the defaults filled in.
	spec, err := svc.Spec(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, []string{"echo.wasm", "x"}, spec.Args)
	assert.Equal(t, compute.TestConfig().DefaultLimits, spec.Limits)
	assert.Equal(t, 1, spec.Replicas)
	_, err = svc.Spec(ctx, "nosuchtask")
	assert.ErrorIs(t, err, compute.ErrNotFound)

	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan struct{})
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(runCtx, func() { close(ready) }) }()
	<-ready
	require.NoError(t, svc.Health(ctx))
	assert.ErrorIs(t, svc.Run(ctx, nil), compute.ErrRunning)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "early", string(res.Stdout))
	stop()
	require.NoError(t, <-ran)

	// Run may run again, and Close stops it.
	ready = make(chan struct{})
	go func() { ran <- svc.Run(ctx, func() { close(ready) }) }()
	<-ready
	require.NoError(t, svc.Health(ctx))
	require.NoError(t, svc.Close())
	require.NoError(t, <-ran)
	require.NoError(t, svc.Close(), "idempotent")
	assert.ErrorIs(t, svc.Health(ctx), compute.ErrClosed)
	_, err = svc.Submit(ctx, compute.Spec{}, module(t, "echo"))
	assert.ErrorIs(t, err, compute.ErrClosed)
	assert.ErrorIs(t, svc.Run(ctx, nil), compute.ErrClosed)
}
