package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSimSoakRejectsBadFlags: fog sim soak refuses, naming the flag,
// before it starts a node.
func TestSimSoakRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--minutes", "0"}, "--minutes 0 must be positive"},
		{[]string{"--sample-every", "0s"}, "--sample-every 0s must be positive"},
		{[]string{"--nodes", "3"}, "--nodes 3: the soak needs 4"},
		{[]string{"--minutes", "1", "--sample-every", "30s"}, "--minutes 1 must hold 4 samples of --sample-every 30s"},
		{[]string{"--loss", "1"}, "--loss 1: want 0 <= --loss < 1"},
	} {
		_, _, err := fog(t, context.Background(), append([]string{"sim", "soak"}, tc.flags...)...)
		require.Error(t, err, tc.flags)
		assert.Contains(t, err.Error(), tc.want)
	}
}
