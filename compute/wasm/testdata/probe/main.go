//go:build wasip1

// Command probe is a test task for package wasm: it reports what a task can
// see. "probe env" prints its argv and environ; "probe fs" tries to read
// host files and to use /scratch; "probe escape HOSTDIR" tries every way
// out of /scratch it knows (see escape.go); "probe net" tries to reach the
// network; "probe sleep D" sleeps for the duration D.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe env|fs|escape HOSTDIR QUOTA FILES|net|sleep D")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "env":
		for _, a := range os.Args {
			fmt.Println("arg", a)
		}
		for _, kv := range os.Environ() {
			fmt.Println("env", kv)
		}
	case "fs":
		for _, p := range []string{"/etc/passwd", "/proc/self/environ", "/scratch/../etc/passwd", "../etc/passwd"} {
			_, err := os.ReadFile(p)
			fmt.Println("read", p, err == nil)
		}
		_, err := os.ReadDir("/")
		fmt.Println("list /", err == nil)
		err = os.WriteFile("/scratch/probe.txt", []byte("written in the sandbox"), 0o600)
		fmt.Println("write /scratch", err == nil)
		if err == nil {
			b, err := os.ReadFile("/scratch/probe.txt")
			fmt.Println("read back", err == nil && string(b) == "written in the sandbox")
		}
	case "escape":
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: probe escape HOSTDIR QUOTA FILES")
			os.Exit(2)
		}
		escape(os.Args[2], os.Args[3], os.Args[4])
	case "net":
		// WASI preview 1 can only use sockets the host preopens; none are.
		for fd := uintptr(3); fd < 6; fd++ {
			l, err := net.FileListener(os.NewFile(fd, "socket"))
			if err == nil {
				l.Close()
			}
			fmt.Println("listen on fd", fd, err == nil)
		}
		for _, addr := range []string{"1.1.1.1:53", "127.0.0.1:22"} {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			fmt.Println("dial", addr, err == nil)
		}
	case "sleep":
		d, err := time.ParseDuration(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(2)
		}
		time.Sleep(d)
		fmt.Println("slept", d)
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown mode", os.Args[1])
		os.Exit(2)
	}
}
