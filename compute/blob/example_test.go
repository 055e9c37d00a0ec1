package blob_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/wasm"
)

// A store keeps modules under their SHA-256 and refuses bytes that do not
// match the ID they are offered under.
func ExampleStore() {
	s, err := blob.OpenStore(blob.TestConfig()) // in memory; a node sets Config.Dir
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	mod := []byte("\x00asm\x01\x00\x00\x00")
	id, _ := s.Put(ctx, mod)
	fmt.Println(id)

	unpin := s.Pin(id) // a task will run it: keep it
	defer unpin()
	got, _ := s.Get(id)
	fmt.Println(len(got), s.Len(), s.Size())

	err = s.PutVerified(ctx, id, []byte("something else"))
	fmt.Println(errors.Is(err, blob.ErrHashMismatch))
	// Output:
	// 93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476
	// 8 1 8
	// true
}

// A node fetches a module it lacks from the peer that submitted the task,
// verifying it against its ID.
func ExampleService_Fetch() {
	mn := mocknet.New()
	defer mn.Close()
	submitterHost, _ := mn.GenPeer()
	runnerHost, _ := mn.GenPeer()
	_ = mn.LinkAll()

	submitter, _ := blob.New(blob.TestConfig(), blob.Options{Host: submitterHost})
	defer submitter.Close()
	runner, _ := blob.New(blob.TestConfig(), blob.Options{Host: runnerHost})
	defer runner.Close()

	ctx := context.Background()
	id, _ := submitter.Store().Put(ctx, []byte("\x00asm\x01\x00\x00\x00"))

	hint := peer.AddrInfo{ID: submitterHost.ID(), Addrs: submitterHost.Addrs()}
	mod, err := runner.Fetch(ctx, id, hint)
	fmt.Println(len(mod), err, wasm.IDOf(mod) == id, runner.Store().Has(id))

	_, err = runner.Fetch(ctx, wasm.IDOf([]byte("unknown")), hint)
	fmt.Println(errors.Is(err, blob.ErrNotFound))
	// Output:
	// 8 <nil> true true
	// true
}
