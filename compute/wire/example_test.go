package wire_test

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/fog-compute/fog/compute/wire"
)

// A submitter's Attach goes over the stream as one frame, and the
// provider's reader, with its frame limit, reads it back.
func Example() {
	var stream bytes.Buffer
	if err := wire.WriteMessage(&stream, &wire.AttachMsg{TaskID: "task-1"}); err != nil {
		panic(err)
	}
	fmt.Printf("frame: % x\n", stream.Bytes())
	m, err := wire.ReadMessage(bufio.NewReader(&stream), 1<<10)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%T %s\n", m, m.(*wire.AttachMsg).TaskID)
	// Output:
	// frame: 02 07 06 74 61 73 6b 2d 31
	// *wire.AttachMsg task-1
}
