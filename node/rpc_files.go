package node

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/creachadair/jrpc2"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fog-compute/fog/files"
)

// FileShareParams are file.share's parameters.
type FileShareParams struct {
	// Path is the absolute path of the file, on the node's machine.
	Path string `json:"path"`
}

// FileShareResult is what file.share returns.
type FileShareResult struct {
	CID  string `json:"cid"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// FileGetParams are file.get's parameters.
type FileGetParams struct {
	CID string `json:"cid"`
	// Out is the absolute path the file is written to once complete;
	// empty keeps it in the store only.
	Out string `json:"out,omitempty"`
	// Name is recorded for file.list (default: Out's base name).
	Name string `json:"name,omitempty"`
	// Providers are multiaddrs with /p2p/ of peers to ask besides those
	// the DHT names.
	Providers []string `json:"providers,omitempty"`
}

// FileCIDParams name a file, for file.status and file.remove.
type FileCIDParams struct {
	CID string `json:"cid"`
}

// FileStatus is what file.status returns.
type FileStatus struct {
	CID      string          `json:"cid"`
	Pinned   bool            `json:"pinned"`
	Complete bool            `json:"complete"`
	Name     string          `json:"name,omitempty"`
	Size     int64           `json:"size"`
	Transfer *files.Transfer `json:"transfer,omitempty"`
}

// FileListResult is what file.list returns.
type FileListResult struct {
	Files           []files.Pin       `json:"files"`
	Transfers       []files.Transfer  `json:"transfers"`
	StoredBytes     int64             `json:"stored_bytes"`
	MaxStorageBytes int64             `json:"max_storage_bytes"`
	Peers           []files.PeerScore `json:"peers"`
}

func (n *Node) registerFilesMethods() error {
	methods := map[string]any{
		"file.share": func(ctx context.Context, p FileShareParams) (FileShareResult, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return FileShareResult{}, err
			}
			if !filepath.IsAbs(p.Path) {
				return FileShareResult{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "path must be absolute"}
			}
			pin, err := f.Share(ctx, p.Path, nil)
			if err != nil {
				return FileShareResult{}, filesError(err)
			}
			return FileShareResult{CID: pin.Root.String(), Name: pin.Name, Size: pin.Size}, nil
		},
		"file.shares": func(context.Context) ([]files.ShareProgress, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return nil, err
			}
			return f.Shares(), nil
		},
		"file.get": func(_ context.Context, p FileGetParams) (files.Transfer, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return files.Transfer{}, err
			}
			c, err := parseCID(p.CID)
			if err != nil {
				return files.Transfer{}, err
			}
			if p.Out != "" && !filepath.IsAbs(p.Out) {
				return files.Transfer{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "out must be absolute"}
			}
			o := files.GetOptions{Name: p.Name}
			if o.Name == "" && p.Out != "" {
				o.Name = filepath.Base(p.Out)
			}
			for _, s := range p.Providers {
				a, err := ma.NewMultiaddr(s)
				if err != nil {
					return files.Transfer{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "provider " + s + ": " + err.Error()}
				}
				ai, err := peer.AddrInfoFromP2pAddr(a)
				if err != nil {
					return files.Transfer{}, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "provider " + s + ": " + err.Error()}
				}
				o.Providers = append(o.Providers, *ai)
			}
			t, err := f.Start(c, o, p.Out)
			return t, filesError(err)
		},
		"file.status": func(ctx context.Context, p FileCIDParams) (FileStatus, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return FileStatus{}, err
			}
			c, err := parseCID(p.CID)
			if err != nil {
				return FileStatus{}, err
			}
			st := FileStatus{CID: c.String()}
			pin, perr := f.Pinned(ctx, c)
			if perr == nil {
				st.Pinned, st.Complete, st.Name, st.Size = true, pin.Complete, pin.Name, pin.Size
			}
			if t, err := f.TransferOf(c); err == nil {
				st.Transfer = &t
				if st.Size == 0 {
					st.Size = t.Progress.Size
				}
			}
			if !st.Pinned && st.Transfer == nil {
				return FileStatus{}, filesError(perr)
			}
			return st, nil
		},
		"file.list": func(ctx context.Context) (FileListResult, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return FileListResult{}, err
			}
			pins, err := f.List(ctx)
			if err != nil {
				return FileListResult{}, err
			}
			s := f.Stats()
			r := FileListResult{Files: pins, Transfers: f.Transfers(), StoredBytes: s.StoredBytes, MaxStorageBytes: s.MaxStorageBytes, Peers: s.Peers}
			if r.Files == nil {
				r.Files = []files.Pin{}
			}
			return r, nil
		},
		"file.remove": func(ctx context.Context, p FileCIDParams) (files.GCStats, error) {
			f, err := n.filesOrErr()
			if err != nil {
				return files.GCStats{}, err
			}
			c, err := parseCID(p.CID)
			if err != nil {
				return files.GCStats{}, err
			}
			st, err := f.Remove(ctx, c)
			return st, filesError(err)
		},
	}
	return n.api.registerAll(methods)
}

func (n *Node) filesOrErr() (*files.Service, error) {
	if n.files == nil {
		return nil, &jrpc2.Error{Code: CodeUnavailable, Message: "file sharing is off on this node (files.enabled = false)"}
	}
	return n.files, nil
}

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, &jrpc2.Error{Code: jrpc2.InvalidParams, Message: "cid " + s + ": " + err.Error()}
	}
	return c, nil
}

// filesError maps the files package's errors to the API's codes.
func filesError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, files.ErrNotPinned), errors.Is(err, files.ErrNoTransfer):
		return &jrpc2.Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, files.ErrNotFile):
		return &jrpc2.Error{Code: jrpc2.InvalidParams, Message: err.Error()}
	case errors.Is(err, files.ErrTooLarge), errors.Is(err, files.ErrStorageFull):
		return &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
	}
	return err
}
