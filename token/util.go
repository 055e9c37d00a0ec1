package token

import (
	"bytes"
	"slices"
)

func sortHashes(hs []Hash) {
	slices.SortFunc(hs, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
}
