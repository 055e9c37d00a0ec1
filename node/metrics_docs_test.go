package node

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metricName finds the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:fog|go|process|libp2p)_[a-z0-9_]+\b`)

// TestMetricsDocs: every metric docs/grafana/fog.json and
// docs/prometheus/alerts.yml use is one a node exports, and promtool
// accepts the rules.
func TestMetricsDocs(t *testing.T) {
	n := startTestNode(t, nil)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	// A call, so that the RPC's counter has a series.
	rsp, _ := post(t, n, "Bearer "+tok, []byte(statusRPC))
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	rsp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	require.NoError(t, err)
	exported := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exported[strings.Fields(name)[0]] = true
		}
	}
	// A labelled family with no series yet (no task refused, no claim
	// rejected, no task ended) is not in the scrape; its collector still
	// describes it.
	descs := make(chan *prometheus.Desc, 64)
	newSubsystemCollector(n.Node).Describe(descs)
	n.taskTime.Describe(descs)
	close(descs)
	for d := range descs {
		m := regexp.MustCompile(`fqName: "([a-z0-9_]+)"`).FindStringSubmatch(d.String())
		require.Len(t, m, 2, d.String())
		exported[m[1]] = true
	}
	for _, name := range []string{
		"fog_tasks_total", "fog_dht_lookups_total", "fog_dht_lookup_duration_seconds",
		"fog_relay_claims_accepted_total", "fog_relay_wins_total", "fog_relay_claim_failures_total",
	} {
		require.True(t, exported[name], "%s is exported", name)
	}

	check := func(t *testing.T, what, expr string) {
		for _, name := range metricName.FindAllString(expr, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			assert.True(t, exported[name] || exported[base], "%s uses %s, which a node does not export", what, name)
		}
	}
	t.Run("grafana", func(t *testing.T) {
		b, err := os.ReadFile("../docs/grafana/fog.json")
		require.NoError(t, err)
		var dash struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(b, &dash))
		require.NotEmpty(t, dash.Panels)
		charted := map[string]bool{}
		for _, p := range dash.Panels {
			require.NotEmpty(t, p.Targets, p.Title)
			for _, tg := range p.Targets {
				check(t, "panel "+p.Title, tg.Expr)
				for _, name := range metricName.FindAllString(tg.Expr, -1) {
					charted[strings.TrimSuffix(name, "_bucket")] = true
				}
			}
		}
		// and every fog metric is on the dashboard
		for name := range exported {
			if strings.HasPrefix(name, "fog_") {
				assert.True(t, charted[name], "no panel charts %s", name)
			}
		}
	})
	t.Run("alerts", func(t *testing.T) {
		b, err := os.ReadFile("../docs/prometheus/alerts.yml")
		require.NoError(t, err)
		check(t, "alerts.yml", string(b))
		for _, a := range []string{"FogNodeDown", "FogNoPeers", "FogTaskFailureRate", "FogDiskNearlyFull"} {
			assert.Contains(t, string(b), "alert: "+a)
		}
	})
	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("no promtool on PATH (Debian's prometheus package; `make tools` installs it as root): the rules' syntax is not checked")
		}
		out, err := exec.Command(promtool, "check", "rules", "../docs/prometheus/alerts.yml").CombinedOutput()
		require.NoError(t, err, "%s", out)
	})
}

// TestMetricsOff: with [api] metrics = false the node registers nothing,
// /metrics is not served (404, not the dashboard's page) and the API still
// answers.
func TestMetricsOff(t *testing.T) {
	n := startTestNode(t, func(c *Config) { c.API.Metrics = false })
	assert.Nil(t, n.reg)
	assert.Nil(t, n.taskTime)
	tok, err := n.dir.ReadToken()
	require.NoError(t, err)
	rsp, _ := post(t, n, "Bearer "+tok, []byte(statusRPC))
	require.Equal(t, http.StatusOK, rsp.StatusCode)
	req, err := http.NewRequest(http.MethodGet, "http://"+n.APIAddr()+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	rsp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	rsp.Body.Close()
	assert.Equal(t, http.StatusNotFound, rsp.StatusCode)
}
