package events_test

import (
	"fmt"

	"github.com/fog-compute/fog/internal/events"
)

func Example() {
	bus, err := events.New(events.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	sub, err := bus.Subscribe("peer")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	bus.Publish("task.state", nil) // filtered out
	bus.Publish("peer.connected", map[string]string{"peer": "12D3KooW..."})
	ev := <-sub.C
	fmt.Println(ev.Seq, ev.Type, ev.Data)
	// Output: 2 peer.connected map[peer:12D3KooW...]
}
