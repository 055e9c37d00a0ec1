package node

import (
	"context"
	"runtime"
	"syscall"

	"github.com/pbnjay/memory"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/gossip"
)

// capacity is the node's offer as the advertiser publishes it: cores and
// price from config, free memory and disk read from the machine (capped by
// config), and the task counts from the local task service.
type capacity struct {
	cfg  ComputeConfig
	dir  DataDir
	load func() (queued, running uint32)
}

// cores returns the number of cores offered.
func (c ComputeConfig) cores() int {
	if c.Cores > 0 {
		return c.Cores
	}
	return runtime.NumCPU()
}

// minMemoryMiB is the least compute.memory_mib: a task of the default
// limits (compute.DefaultConfig's) must fit.
func minMemoryMiB() uint64 {
	return uint64(compute.DefaultConfig().DefaultLimits.MemoryPages) * wasm.PageSize >> 20
}

// memory returns the memory offered to tasks, in bytes: memory_mib, or half
// of the machine.
func (c ComputeConfig) memory() uint64 {
	if c.MemoryMiB > 0 {
		return c.MemoryMiB << 20
	}
	return memory.TotalMemory() / 2
}

// Capacity implements gossip.CapacitySource.
func (c *capacity) Capacity(context.Context) (gossip.Capacity, error) {
	mem := min(c.cfg.memory(), memory.FreeMemory())
	var disk uint64
	if c.dir != "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs(string(c.dir), &st); err == nil {
			disk = st.Bavail * uint64(st.Bsize)
		}
	}
	if c.cfg.DiskMiB > 0 && (disk == 0 || c.cfg.DiskMiB<<20 < disk) {
		disk = c.cfg.DiskMiB << 20
	}
	out := gossip.Capacity{
		Cores:    uint32(c.cfg.cores()),
		Memory:   mem,
		Disk:     disk,
		Price:    c.cfg.Price,
		Runtimes: (&compute.Config{Scratch: c.cfg.Scratch}).Runtimes(),
	}
	out.Queue, out.Running = c.load()
	return out, nil
}
