// Package events is the node's bounded fan-out bus of live events: peers
// connecting, tasks changing state, relay directories closing, messages
// arriving. Publishers never block: each subscriber has a bounded buffer,
// and a subscriber that does not keep up loses events, which it learns
// from one event of type Dropped carrying how many it lost, delivered as
// soon as its buffer has room again. Nothing is global: a node makes one
// Bus and hands it to its publishers and to the API that serves it.
//
// A Bus and its Subscriptions are safe for concurrent use.
package events
