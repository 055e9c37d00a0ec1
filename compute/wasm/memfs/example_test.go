package memfs_test

import (
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/fog-compute/fog/compute/wasm/memfs"
)

func Example() {
	cfg := memfs.DefaultConfig()
	cfg.MaxBytes = 8 // a tiny quota, to show it
	scratch, err := memfs.New(cfg)
	if err != nil {
		panic(err)
	}

	// A task would see it at /scratch; no host directory is involved.
	_ = wazero.NewModuleConfig().WithFSConfig(
		wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(scratch, "/scratch"))

	f, errno := scratch.OpenFile("notes.txt", sys.O_CREAT|sys.O_RDWR, 0o600)
	if errno != 0 {
		panic(errno)
	}
	n, errno := f.Write([]byte("12345678"))
	fmt.Println(n, errno == 0)
	_, errno = f.Write([]byte("9"))
	fmt.Println(errno, scratch.Full())
	fmt.Println(scratch.Symlink("../../..", "escape"))
	_ = f.Close()
	bytes, inodes := scratch.Usage()
	fmt.Println(bytes, inodes)
	// Output:
	// 8 true
	// input/output error true
	// operation not permitted
	// 8 2
}
