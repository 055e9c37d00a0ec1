package files_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/fog-compute/fog/files"
	"github.com/fog-compute/fog/store"
)

// A file shared on one node is fetched by another, which verifies every
// block against its CID.
func Example() {
	mn := mocknet.New()
	defer mn.Close()
	ha, _ := mn.GenPeer()
	hb, _ := mn.GenPeer()
	_ = mn.LinkAll()

	open := func() *store.DB { db, _ := store.Open(store.InMemoryConfig()); return db }
	dba, dbb := open(), open()
	defer dba.Close()
	defer dbb.Close()
	a, _ := files.New(files.TestConfig(), files.Options{Host: ha, Datastore: dba.Datastore(store.PrefixFiles)})
	defer a.Close()
	b, _ := files.New(files.TestConfig(), files.Options{Host: hb, Datastore: dbb.Datastore(store.PrefixFiles)})
	defer b.Close()

	ctx := context.Background()
	data := []byte("hello\n")
	pin, _ := a.ShareReader(ctx, bytes.NewReader(data), "hello.txt", int64(len(data)), nil)
	fmt.Println(pin.Root)

	prog, err := b.Get(ctx, pin.Root, files.GetOptions{Providers: []peer.AddrInfo{{ID: ha.ID(), Addrs: ha.Addrs()}}})
	fmt.Println(prog.Done, err)
	var out bytes.Buffer
	_ = b.Export(ctx, pin.Root, &out)
	fmt.Print(out.String())
	// Output:
	// bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am
	// true <nil>
	// hello
}
