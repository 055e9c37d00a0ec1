package binenc_test

import (
	"errors"
	"fmt"

	"github.com/fog-compute/fog/internal/binenc"
)

var errBad = errors.New("bad record")

func Example() {
	b := binenc.AppendString(nil, "wordcount")
	b = binenc.AppendBytes(b, []byte{1, 2, 3})

	d := binenc.NewReader(b, errBad)
	name := d.String(64)
	data := d.Bytes()
	d.End()
	fmt.Println(name, data, d.Err())

	// A length written in two bytes where one would do is not canonical.
	d = binenc.NewReader([]byte{0x83, 0x00, 'a', 'b', 'c'}, errBad)
	_ = d.Bytes()
	fmt.Println(errors.Is(d.Err(), errBad))
	// Output:
	// wordcount [1 2 3] <nil>
	// true
}
