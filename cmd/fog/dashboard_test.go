package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browserTools returns the Node.js and Chromium executables and the
// dashboard's directory (with playwright-core installed), or why the
// browser test cannot run here.
func browserTools() (nodeJS, chromium, webDir, why string) {
	webDir, err := filepath.Abs("../../web")
	if err != nil {
		return "", "", "", err.Error()
	}
	if nodeJS, err = exec.LookPath("node"); err != nil {
		return "", "", "", "no node (Node.js) on PATH"
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err != nil {
		return "", "", "", "web/node_modules has no playwright-core (run `npm ci` in web/)"
	}
	chromium = os.Getenv("CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if chromium != "" {
			break
		}
		chromium, _ = exec.LookPath(name)
	}
	if chromium == "" {
		return "", "", "", "no chromium on PATH (apt-get install chromium, or set CHROMIUM)"
	}
	return nodeJS, chromium, webDir, ""
}

// TestDashboardInBrowser logs into node 0 of a 3-node devnet in headless
// Chromium (web/test/dashboard.mjs): it sees both peers, submits a task and
// reads its output, and a wrong token shows nothing. Screenshots go to
// $FOG_SCREENSHOTS, or the test's temporary directory.
func TestDashboardInBrowser(t *testing.T) {
	nodeJS, chromium, webDir, why := browserTools()
	if why != "" {
		t.Skip("dashboard browser test skipped: " + why + "; `make web-test-tools` installs them (as root)")
	}
	d, ctx := testDevnet(t, 3, 2*time.Minute)

	tok, err := d.dirs[0].ReadToken()
	require.NoError(t, err)
	module, err := filepath.Abs("../../compute/testdata/echo.wasm")
	require.NoError(t, err)
	shots := os.Getenv("FOG_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	cmd := exec.CommandContext(ctx, nodeJS, filepath.Join(webDir, "test", "dashboard.mjs"))
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(),
		"FOG_URL=http://"+d.nodes[0].APIAddr(),
		"FOG_TOKEN="+tok,
		"FOG_PEERS="+d.nodes[1].Host().ID().String()+","+d.nodes[2].Host().ID().String(),
		"FOG_MODULE="+module,
		"FOG_SHOTS="+shots,
		"CHROMIUM="+chromium,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("dashboard.mjs:\n%s", strings.TrimSpace(out.String()))
	require.NoError(t, err, "the browser test failed (screenshots in %s)", shots)
	for _, f := range []string{"wrong-token.png", "overview.png", "directory.png", "tasks.png", "relays.png"} {
		fi, err := os.Stat(filepath.Join(shots, f))
		require.NoError(t, err)
		require.Positive(t, fi.Size(), f)
	}
}
