// Package chatsvc runs the chat on a node: it is the shell around the
// chat's pure parts. It keeps the node's chat key (made once, stored, and
// published in the DHT as the record chat.ChatKeyRecordName), announces
// and collects nickname claims on the topic /fog/chat/names/1, drives the
// DM core (package dm) — carrying its frames over /fog/chat/dm/1.0.0
// streams, sealed envelopes through the mix (mixsvc.Route) or to the
// recipient's mailboxes, looking up chat keys in the DHT, and telling it
// which peers are online — keeps received messages in the store before
// they are acknowledged, and runs the node's channels (package channel),
// rejoining them after a restart.
//
// A Service is safe for concurrent use. Run owns its goroutines (the DM
// core's timer, the name announcements, the key's republishing, and the
// short-lived goroutines that carry effects), which stop when Run's
// context ends.
package chatsvc
