package vrf_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/fog-compute/fog/mix/vrf"
)

// Example proves an input with a node's Ed25519 identity key and verifies the
// proof with its public key, as a lottery participant and a peer checking its
// ticket would.
func Example() {
	// A fixed seed keeps the output reproducible; a node uses its identity key.
	sk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize))
	pk := sk.Public().(ed25519.PublicKey)
	alpha := []byte("fog relay lottery, epoch 7")

	pi, err := vrf.Prove(sk, alpha)
	if err != nil {
		fmt.Println("prove:", err)
		return
	}
	beta, err := vrf.Verify(pk, alpha, pi)
	fmt.Println("valid:", err == nil)
	fmt.Println("proof bytes:", len(pi), "output bytes:", len(beta))

	fromProof, _ := vrf.ProofToHash(pi)
	fmt.Println("ProofToHash agrees:", bytes.Equal(beta, fromProof))

	_, err = vrf.Verify(pk, []byte("fog relay lottery, epoch 8"), pi)
	fmt.Println("other epoch:", err)
	// Output:
	// valid: true
	// proof bytes: 80 output bytes: 64
	// ProofToHash agrees: true
	// other epoch: vrf: invalid proof: challenge mismatch
}
