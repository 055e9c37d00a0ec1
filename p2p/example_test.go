package p2p_test

import (
	"fmt"

	"github.com/fog-compute/fog/p2p"
)

// Protocol IDs name the protocol and every version a node serves, highest
// first, which is the order Open proposes them in.
func ExampleProtocol() {
	task := p2p.MustProtocol("task", p2p.Version{Major: 1}, p2p.Version{Major: 1, Minor: 1})
	fmt.Println(task.IDs())
	// Output: [/fog/task/1.1.0 /fog/task/1.0.0]
}
