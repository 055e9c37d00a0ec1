//go:build wasip1

// Command wordcount is a fog task: it counts the lines, words and bytes of
// its standard input and prints them as "lines words bytes", like wc.
// A word is a maximal run of non-space characters (unicode.IsSpace).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o examples/bin/wordcount.wasm ./examples/wordcount
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"unicode"
	"unicode/utf8"
)

func main() {
	lines, words, bytes, err := count(bufio.NewReaderSize(os.Stdin, 64<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
	fmt.Printf("%d %d %d\n", lines, words, bytes)
}

func count(r *bufio.Reader) (lines, words, bytes int, err error) {
	inWord := false
	for {
		c, size, err := r.ReadRune()
		if err == io.EOF {
			return lines, words, bytes, nil
		}
		if err != nil {
			return lines, words, bytes, err
		}
		bytes += size
		if c == '\n' {
			lines++
		}
		// An invalid byte (RuneError of size 1) counts as part of a word.
		space := unicode.IsSpace(c) && !(c == utf8.RuneError && size == 1)
		if !space && !inWord {
			words++
		}
		inWord = !space
	}
}
