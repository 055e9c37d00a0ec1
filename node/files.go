package node

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fog-compute/fog/files"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// FilesConfig is the [files] section; see files.Config.
type FilesConfig struct {
	Enabled       bool  `toml:"enabled" comment:"Share and fetch files (fog file): UnixFS over IPFS's Bitswap, blocks in this node's store, roots announced in the DHT."`
	MaxFileMiB    int64 `toml:"max_file_mib" comment:"Largest file shared or fetched, in MiB."`
	MaxStorageMiB int64 `toml:"max_storage_mib" comment:"Most bytes of file blocks kept, in MiB; a share or fetch beyond it is refused (fog file rm frees space)."`
}

// defaultFilesConfig is the [files] section fog init writes.
func defaultFilesConfig() FilesConfig {
	fc := files.DefaultConfig()
	return FilesConfig{Enabled: true, MaxFileMiB: fc.MaxFileBytes >> 20, MaxStorageMiB: fc.MaxStorageBytes >> 20}
}

var filesKeys = map[string]string{"MaxFileBytes": "max_file_mib", "MaxStorageBytes": "max_storage_mib"}

// filesConfig derives the files configuration from base and [files].
func (c Config) filesConfig(base files.Config) files.Config {
	base.MaxFileBytes = c.Files.MaxFileMiB << 20
	base.MaxStorageBytes = c.Files.MaxStorageMiB << 20
	return base
}

// validateFiles checks the [files] section.
func (c Config) validateFiles() error {
	if !c.Files.Enabled {
		return nil
	}
	if c.Files.MaxFileMiB < 1 || c.Files.MaxFileMiB > 1<<30 || c.Files.MaxStorageMiB > 1<<30 {
		return fmt.Errorf("%w: files.max_file_mib %d and files.max_storage_mib %d: want 1 <= max_file_mib <= max_storage_mib <= 2^30", ErrConfig, c.Files.MaxFileMiB, c.Files.MaxStorageMiB)
	}
	if c.Files.MaxStorageMiB < c.Files.MaxFileMiB {
		return fmt.Errorf("%w: files.max_storage_mib %d is below files.max_file_mib %d", ErrConfig, c.Files.MaxStorageMiB, c.Files.MaxFileMiB)
	}
	if err := c.filesConfig(files.DefaultConfig()).Validate(); err != nil {
		return tomlError(err, files.ErrConfig, "files", filesKeys)
	}
	return nil
}

// filesProtocolLimits back the files service's own limits on Bitswap's
// inbound streams in the resource manager, at twice them, as
// protocolLimits does for fog's protocols.
func filesProtocolLimits(c Config) []p2p.ProtocolLimit {
	if !c.Files.Enabled {
		return nil
	}
	fc := files.DefaultConfig()
	var out []p2p.ProtocolLimit
	for _, id := range []protocol.ID{bsnet.ProtocolBitswap, bsnet.ProtocolBitswapOneOne, bsnet.ProtocolBitswapOneZero, bsnet.ProtocolBitswapNoVers} {
		out = append(out, p2p.ProtocolLimit{ID: id, Streams: 2 * fc.Streams, StreamsPerPeer: 2 * fc.StreamsPerPeer})
	}
	return out
}

// startFiles starts file sharing under the supervisor, unless [files] is
// off.
func (s *starter) startFiles(ctx context.Context) error {
	n := s.n
	if !s.cfg.Files.Enabled {
		return nil
	}
	fc := s.cfg.filesConfig(files.DefaultConfig())
	fc.Clock = n.clk
	// Blocks live in files beside the store (files/ in the data
	// directory), in memory for an in-memory node.
	var dir string
	if n.dir != "" && !s.opts.InMemory && s.opts.Store == nil {
		dir = filepath.Join(string(n.dir), "files")
	}
	f, err := files.New(fc, files.Options{
		Host: n.host, Datastore: n.store.Datastore(store.PrefixFiles), Dir: dir, Router: n.dht,
		Logger: n.log.With("subsystem", "files"),
	})
	if err != nil {
		return err
	}
	n.files = f
	s.onClose(f.Close)
	return n.sup.start(ctx, f)
}
