package node

import (
	"context"
	"fmt"

	"github.com/creachadair/jrpc2"

	"github.com/fog-compute/fog/mix/lottery"
)

// RelayDirectoryParams are relay.directory's parameters.
type RelayDirectoryParams struct {
	// Epoch is the epoch whose relay directory to return; absent means
	// the current one.
	Epoch *uint64 `json:"epoch,omitempty"`
}

func (n *Node) registerRelayMethods() error {
	methods := map[string]any{
		"relay.status": func(context.Context) (RelayStatus, error) { return n.relayStatus(), nil },
		"relay.directory": func(_ context.Context, p RelayDirectoryParams) (lottery.DirectoryInfo, error) {
			e := n.lottery.Epoch()
			if p.Epoch != nil {
				e = *p.Epoch
			}
			d, ok := n.lottery.DirectoryInfo(e)
			if !ok {
				return lottery.DirectoryInfo{}, &jrpc2.Error{Code: CodeNotFound,
					Message: fmt.Sprintf("no relay directory for epoch %d (this node keeps the last few epochs; the current one is %d)", e, n.lottery.Epoch())}
			}
			return d, nil
		},
	}
	return n.api.registerAll(methods)
}
