package web

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAssetsSelfContained: index.html loads only files that are embedded,
// and no asset reaches for another host at run time (no CDN, no remote
// font).
func TestAssetsSelfContained(t *testing.T) {
	a := Assets()
	index, err := fs.ReadFile(a, "index.html")
	require.NoError(t, err)
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(index), -1)
	require.NotEmpty(t, refs)
	scripts := 0
	for _, r := range refs {
		ref := r[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		require.True(t, strings.HasPrefix(ref, "/assets/"), "index.html loads %s, not one of its own assets", ref)
		_, err := fs.Stat(a, strings.TrimPrefix(ref, "/"))
		require.NoError(t, err, "index.html loads %s, which is not embedded", ref)
		if strings.HasSuffix(ref, ".js") {
			scripts++
		}
	}
	assert.Equal(t, 1, scripts, "one script, the bundle")
	assert.NotContains(t, string(index), "<script>", "no inline script (the CSP allows none)")
	remote := regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	require.NoError(t, fs.WalkDir(a, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(a, p)
		if err != nil {
			return err
		}
		for _, m := range remote.FindAllString(string(b), -1) {
			// XML namespaces name a URL without fetching it.
			assert.Contains(t, []string{"http://www.w3.org/"}, m, "%s refers to %s", p, m)
		}
		return nil
	}))
}

// TestDistIsBuiltFromSources: web/dist is what `make web` makes of
// web/src, so that the binary serves the sources in the repository. It
// needs the front-end's tools (npm ci in web/) and skips without them.
func TestDistIsBuiltFromSources(t *testing.T) {
	vite := filepath.Join("node_modules", ".bin", "vite")
	if _, err := os.Stat(vite); err != nil {
		t.Skip("web/node_modules has no vite (npm ci in web/): web/dist is not compared with its sources")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node (Node.js) on PATH: web/dist is not compared with its sources")
	}
	out := t.TempDir()
	cmd := exec.Command(vite, "build", "--outDir", out, "--emptyOutDir", "--logLevel", "warn")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	built := files(t, os.DirFS(out))
	committed := files(t, os.DirFS("dist"))
	require.Equal(t, keys(built), keys(committed), "web/dist is stale: run `make web` and commit web/dist")
	for name, b := range built {
		assert.True(t, bytes.Equal(b, committed[name]), "web/dist/%s is stale: run `make web` and commit web/dist", name)
	}
}

func files(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = b
		return err
	}))
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
