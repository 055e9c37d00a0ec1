// Package web holds the node's dashboard as built assets (dist/, made by
// `make web` from the TypeScript sources beside it with Vite), embedded in
// the binary so that a plain `go build` needs no Node.js. The node serves
// Assets at / on its API listener (node/api_web.go); nothing here runs.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built dashboard: index.html and its assets/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: fs.Sub cannot fail on it
	}
	return sub
}
