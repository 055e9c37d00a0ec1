package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
)

// echoWasm is compute/testdata/echo.wasm (stdin to stdout, 194 bytes): the
// demo task when the Go example cannot be built here.
//
//go:embed assets/echo.wasm
var echoWasm []byte

// demoText is the demo task's standard input.
const demoText = `fog is a decentralized fog-compute node.
Nodes find each other through a Kademlia DHT, advertise spare compute over
gossipsub and run each other's WebAssembly tasks, with no coordinator.
`

// demoModule builds examples/wordcount for WASI if this is a fog checkout
// with Go installed, and otherwise falls back to the embedded echo module.
func demoModule(ctx context.Context, tmp string, log io.Writer) (name string, code []byte) {
	src := filepath.Join("examples", "wordcount")
	if _, err := os.Stat(filepath.Join(src, "main.go")); err == nil {
		if goBin, err := exec.LookPath("go"); err == nil {
			out := filepath.Join(tmp, "wordcount.wasm")
			fmt.Fprintf(log, "building the example task %s for GOOS=wasip1 GOARCH=wasm\n", src)
			cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./"+filepath.ToSlash(src))
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if msg, err := cmd.CombinedOutput(); err == nil {
				if code, err := os.ReadFile(out); err == nil {
					return "examples/wordcount", code
				}
			} else {
				fmt.Fprintf(log, "could not build it (%v: %s); using the built-in echo task\n", err, strings.TrimSpace(string(msg)))
			}
		}
	}
	return "echo (built in)", echoWasm
}

// runDemo waits until node0's directory lists every node, submits the demo
// task with up to three replicas and prints the outcome.
func (a *app) runDemo(ctx context.Context, d *devnet, tmp string) error {
	name, code := demoModule(ctx, tmp, a.errOut)
	n0 := d.nodes[0]
	want := len(d.nodes)
	dir := n0.Gossip().Directory()
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	defer lcancel()
	for {
		updated := dir.Updated()
		if dir.Len() >= want {
			break
		}
		select {
		case <-updated:
		case <-lctx.Done():
			if err := ctx.Err(); err != nil {
				return err
			}
			return fmt.Errorf("demo: node0's directory lists %d of %d nodes after 30 s", dir.Len(), want)
		}
	}
	replicas := min(3, len(d.nodes))
	spec := compute.Spec{Args: []string{"wordcount"}, Stdin: []byte(demoText), Replicas: replicas}
	start := a.clk.Now()
	id, err := n0.Compute().Submit(ctx, spec, code)
	if err != nil {
		return fmt.Errorf("demo: submit: %w", err)
	}
	fmt.Fprintf(a.out, "submitted the task %s (%s, %s) from node0 ...\n", id, name, plural(replicas, "replica"))
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := n0.Compute().Wait(wctx, id)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	o := outcomeOf(res)
	fmt.Fprintf(a.out, "finished in %s:\n", clock.Since(a.clk, start).Round(time.Millisecond))
	return a.printOutcome(a.out, o)
}
