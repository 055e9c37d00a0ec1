package compute

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/internal/clock"
)

// conn is one task stream with a reader goroutine that decodes frames into
// a channel, so that its owner can wait for a frame, a timer and a
// cancellation at once. The reader ends when the stream's read side
// ends (EOF, reset) or the conn is closed; close waits for it.
type conn struct {
	st     network.Stream
	clock  clock.Clock
	frames chan wire.Message // decoded frames; closed by the reader when it ends
	err    error             // why the reader ended (io.EOF for a clean end); read after frames is closed

	wmu       sync.Mutex
	done      chan struct{}
	readerEnd chan struct{}
	closeOnce sync.Once
}

// closeWait bounds how long a graceful close waits for the reader to end
// before resetting the stream.
const closeWait = 5 * time.Second

func newConn(st network.Stream, limit int, clk clock.Clock) *conn {
	c := &conn{st: st, clock: clk, frames: make(chan wire.Message, 1), done: make(chan struct{}), readerEnd: make(chan struct{})}
	go c.read(limit)
	return c
}

func (c *conn) read(limit int) {
	defer close(c.readerEnd)
	defer close(c.frames)
	br := bufio.NewReader(c.st)
	for {
		m, err := wire.ReadMessage(br, limit)
		if err != nil {
			c.err = err
			return
		}
		select {
		case c.frames <- m:
		case <-c.done:
			c.err = errors.New("compute: stream closed")
			return
		}
	}
}

// write sends one message; it may be called while the reader runs.
func (c *conn) write(m wire.Message) error {
	b, err := wire.EncodeMessage(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.st.Write(b)
	return err
}

// close ends the conversation: gracefully (the stream is closed, so the
// peer reads what was written, then EOF) or not (reset). It waits for the
// reader goroutine.
func (c *conn) close(graceful bool) {
	c.closeOnce.Do(func() {
		close(c.done)
		if graceful {
			// Close ends our read side too, which ends the reader; reset
			// only a transport on which it does not.
			_ = c.st.Close()
			t := c.clock.NewTimer(closeWait)
			defer t.Stop()
			select {
			case <-c.readerEnd:
				return
			case <-t.C():
			}
		}
		_ = c.st.Reset()
	})
	<-c.readerEnd
}

// readErr returns why the reader ended, once frames is closed; io.EOF
// means the peer closed its side cleanly.
func (c *conn) readErr() error {
	<-c.readerEnd
	if c.err == nil {
		return io.EOF
	}
	return c.err
}
