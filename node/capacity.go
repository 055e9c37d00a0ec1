package node

import (
	"context"
	"runtime"
	"syscall"

	"github.com/pbnjay/memory"

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

// runtimes returns the runtimes the node advertises: wasm, and
// wasm/scratch if it runs scratch tasks (as compute.Config.Runtimes).
func (c ComputeConfig) runtimes() []string {
	if c.Scratch {
		return []string{gossip.RuntimeWasm, gossip.RuntimeWasmScratch}
	}
	return []string{gossip.RuntimeWasm}
}

// Capacity implements gossip.CapacitySource.
func (c *capacity) Capacity(context.Context) (gossip.Capacity, error) {
	memCap := c.cfg.MemoryMiB << 20
	if memCap == 0 {
		memCap = memory.TotalMemory() / 2
	}
	mem := min(memCap, memory.FreeMemory())
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
		Runtimes: c.cfg.runtimes(),
	}
	out.Queue, out.Running = c.load()
	return out, nil
}
