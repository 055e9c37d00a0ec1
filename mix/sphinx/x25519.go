package sphinx

import (
	"crypto/subtle"
	"errors"

	"filippo.io/edwards25519/field"
)

var errLowOrder = errors.New("X25519 output is zero (a point of small order)")

// x25519 returns X25519(scalar, point) of RFC 7748: the Montgomery ladder
// of its Section 5 over filippo.io/edwards25519's constant-time field
// arithmetic. crypto/ecdh computes the same function, but its
// NewPrivateKey also computes the scalar's public key, a second ladder
// that blinding, which uses each scalar once, does not need. Like
// crypto/ecdh it fails when the output is all zero. scalar and point are
// 32 bytes (the callers' sizes are constants).
func x25519(scalar, point []byte) ([]byte, error) {
	var k [32]byte
	copy(k[:], scalar)
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64

	var x1, x2, z2, x3, z3 field.Element
	if _, err := x1.SetBytes(point); err != nil { // ignores bit 255, as RFC 7748 asks
		return nil, err
	}
	x2.One()
	x3.Set(&x1)
	z3.One()

	var a, aa, b, bb, e, c, d, da, cb, t field.Element
	swap := 0
	for i := 254; i >= 0; i-- {
		bit := int(k[i/8]>>(i%8)) & 1
		swap ^= bit
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = bit

		a.Add(&x2, &z2)
		aa.Square(&a)
		b.Subtract(&x2, &z2)
		bb.Square(&b)
		e.Subtract(&aa, &bb)
		c.Add(&x3, &z3)
		d.Subtract(&x3, &z3)
		da.Multiply(&d, &a)
		cb.Multiply(&c, &b)
		x3.Add(&da, &cb)
		x3.Square(&x3)
		z3.Subtract(&da, &cb)
		z3.Square(&z3)
		z3.Multiply(&z3, &x1)
		x2.Multiply(&aa, &bb)
		t.Mult32(&e, 121665)
		t.Add(&aa, &t)
		z2.Multiply(&e, &t)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	out := x2.Bytes()
	var zero [32]byte
	if subtle.ConstantTimeCompare(out, zero[:]) == 1 {
		return nil, errLowOrder
	}
	return out, nil
}
