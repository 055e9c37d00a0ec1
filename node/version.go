package node

import (
	"runtime"
	"runtime/debug"
)

// Version is fog's release version.
const Version = "0.1.0"

// VersionInfo is what node.version and `fog version` report.
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// BuildVersion describes this binary.
func BuildVersion() VersionInfo {
	v := VersionInfo{Version: Version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	return v
}
