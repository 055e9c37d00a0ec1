package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
)

// The container's entrypoint creates the node at first start (API on all
// interfaces, the bootstrap list, the seed key on the seed host only), runs
// it, and keeps what is there on later starts. `fog run` is a stub here (a
// node on 0.0.0.0 has no place in a test); `fog init` is the real one.
func TestDeployEntrypoint(t *testing.T) {
	bin := t.TempDir()
	shim := "#!/bin/sh\nif [ \"$1\" = run ]; then echo ran >> \"$FOG_PATH/ran\"; exit 0; fi\nFOG_TEST_MAIN=1 exec '" + os.Args[0] + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "fog"), []byte(shim), 0o755))
	seedKey := filepath.Join(t.TempDir(), "identity.key")
	priv, err := p2p.CreateIdentity(seedKey)
	require.NoError(t, err)
	seedID, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	boot := "/dns4/fog-0.fog.default.svc.cluster.local/tcp/4001/p2p/" + seedID.String()

	entry := func(t *testing.T, data, host string) {
		t.Helper()
		cmd := exec.Command("sh", "../../deploy/docker-entrypoint.sh")
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "FOG_PATH=" + data, "HOSTNAME=" + host,
			"FOG_BOOTSTRAP=" + boot, "FOG_SEED_KEY=" + seedKey, "FOG_SEED_HOST=fog-0"}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	idOf := func(t *testing.T, data string) peer.ID {
		priv, err := p2p.LoadIdentity(node.DataDir(data).Identity())
		require.NoError(t, err)
		id, err := peer.IDFromPrivateKey(priv)
		require.NoError(t, err)
		return id
	}

	seed := filepath.Join(t.TempDir(), "fog-0")
	entry(t, seed, "fog-0")
	assert.Equal(t, seedID, idOf(t, seed), "the seed host takes the seed key")
	cfg, err := node.DataDir(seed).LoadConfig()
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:5151", cfg.API.Listen)
	assert.Equal(t, []string{boot}, cfg.P2P.Bootstrap)
	tok, err := node.DataDir(seed).ReadToken()
	require.NoError(t, err)
	entry(t, seed, "fog-0")
	tok2, err := node.DataDir(seed).ReadToken()
	require.NoError(t, err)
	assert.Equal(t, tok, tok2, "a second start keeps the node")
	ran, err := os.ReadFile(filepath.Join(seed, "ran"))
	require.NoError(t, err)
	assert.Equal(t, "ran\nran\n", string(ran), "each start runs the node")

	other := filepath.Join(t.TempDir(), "fog-1")
	entry(t, other, "fog-1")
	assert.NotEqual(t, seedID, idOf(t, other), "another host makes its own identity")
}

// The systemd unit passes systemd-analyze verify (the binary's path
// replaced by this test's, which exists).
func TestDeploySystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze on PATH (Debian's systemd package): the unit is not verified")
	}
	unit, err := os.ReadFile("../../deploy/systemd/fog.service")
	require.NoError(t, err)
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=fog", "CapabilityBoundingSet=\n"} {
		assert.Contains(t, string(unit), want)
	}
	path := filepath.Join(t.TempDir(), "fog.service")
	require.NoError(t, os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/fog"), []byte(os.Args[0])), 0o644))
	cmd := exec.Command(analyze, "verify", path)
	out, err := cmd.CombinedOutput()
	// verify prints what it finds wrong; other units of the machine it
	// loads on the way may draw warnings of their own, which are not ours.
	for _, line := range strings.Split(string(out), "\n") {
		assert.NotContains(t, line, "fog.service", "systemd-analyze verify: %s", out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	require.NoError(t, err, "systemd-analyze verify: %s", out)
}

// The Kubernetes manifests hold a headless Service and a StatefulSet that
// fit together: the set names the Service, selects its own pods, keeps
// /data on a claim per pod, runs as a non-root user, and exposes the ports
// the image listens on.
func TestDeployKubernetes(t *testing.T) {
	f, err := os.Open("../../deploy/kubernetes/fog.yaml")
	require.NoError(t, err)
	defer f.Close()
	type meta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	type port struct {
		Name          string `yaml:"name"`
		Port          int    `yaml:"port"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	}
	type object struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   meta   `yaml:"metadata"`
		Data       map[string]string
		Spec       struct {
			ClusterIP   string    `yaml:"clusterIP"`
			Selector    yaml.Node `yaml:"selector"`
			Ports       []port    `yaml:"ports"`
			ServiceName string    `yaml:"serviceName"`
			Replicas    int       `yaml:"replicas"`
			Template    struct {
				Metadata meta `yaml:"metadata"`
				Spec     struct {
					SecurityContext struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
						RunAsUser    int  `yaml:"runAsUser"`
					} `yaml:"securityContext"`
					Containers []struct {
						Name         string `yaml:"name"`
						Image        string `yaml:"image"`
						Ports        []port `yaml:"ports"`
						VolumeMounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata meta `yaml:"metadata"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	objs := map[string]object{}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(false)
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		require.NotEmpty(t, o.APIVersion)
		require.NotEmpty(t, o.Metadata.Name, o.Kind)
		objs[o.Kind] = o
	}
	svc, set, cm := objs["Service"], objs["StatefulSet"], objs["ConfigMap"]
	require.Equal(t, "v1", svc.APIVersion)
	require.Equal(t, "apps/v1", set.APIVersion)
	assert.Equal(t, "None", svc.Spec.ClusterIP, "a headless Service")
	assert.Equal(t, svc.Metadata.Name, set.Spec.ServiceName)
	var svcSel map[string]string
	require.NoError(t, svc.Spec.Selector.Decode(&svcSel))
	var setSel struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	require.NoError(t, set.Spec.Selector.Decode(&setSel))
	for k, v := range svcSel {
		assert.Equal(t, v, set.Spec.Template.Metadata.Labels[k], "the Service selects the set's pods")
	}
	for k, v := range setSel.MatchLabels {
		assert.Equal(t, v, set.Spec.Template.Metadata.Labels[k], "the set selects its own pods")
	}
	assert.GreaterOrEqual(t, set.Spec.Replicas, 2)
	assert.True(t, set.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	assert.Equal(t, 10001, set.Spec.Template.Spec.SecurityContext.RunAsUser, "the image's user")
	require.Len(t, set.Spec.Template.Spec.Containers, 1)
	c := set.Spec.Template.Spec.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	assert.Equal(t, map[string]int{"p2p-tcp": 4001, "p2p-quic": 4001, "api": 5151}, ports)
	require.Len(t, set.Spec.VolumeClaimTemplates, 1)
	claim := set.Spec.VolumeClaimTemplates[0].Metadata.Name
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == claim && m.MountPath == "/data")
	}
	assert.True(t, mounted, "each pod keeps /data on its own claim")
	_, err = p2p.ParseBootstrap(strings.Fields(strings.Replace(cm.Data["FOG_BOOTSTRAP"], "12D3KooWReplaceWithTheSeedPeerID", "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", 1)))
	require.NoError(t, err, "the bootstrap list parses once the seed's ID is filled in")

	docker, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	for _, want := range []string{"AS build", "CGO_ENABLED=0", "USER 10001:10001", `VOLUME ["/data"]`, "deploy/docker-entrypoint.sh"} {
		assert.Contains(t, string(docker), want, "Dockerfile")
	}
}
