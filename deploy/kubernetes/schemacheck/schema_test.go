package schemacheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// kinds maps apiVersion/kind to a new object of the Kubernetes API type
// the manifests may hold.
var kinds = map[string]func() any{
	"v1/Service":          func() any { return new(corev1.Service) },
	"v1/ConfigMap":        func() any { return new(corev1.ConfigMap) },
	"v1/Secret":           func() any { return new(corev1.Secret) },
	"apps/v1/StatefulSet": func() any { return new(appsv1.StatefulSet) },
}

// check decodes every document of a multi-document YAML stream strictly
// into its Kubernetes type and returns the kinds it held, in order.
func check(src []byte) ([]string, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(src))
	var out []string
	for i := 0; ; i++ {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		doc, err := yamlv3.Marshal(&node)
		if err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		mk, ok := kinds[gvk]
		if !ok {
			return out, fmt.Errorf("document %d: unknown apiVersion/kind %q", i, gvk)
		}
		if err := yaml.UnmarshalStrict(doc, mk()); err != nil {
			return out, fmt.Errorf("document %d (%s): %w", i, gvk, err)
		}
		out = append(out, tm.Kind)
	}
}

// TestManifests: every manifest in deploy/kubernetes fits the Kubernetes
// API types.
func TestManifests(t *testing.T) {
	files, err := filepath.Glob("../*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			got, err := check(src)
			require.NoError(t, err)
			if filepath.Base(f) == "fog.yaml" {
				assert.Equal(t, []string{"Service", "ConfigMap", "StatefulSet"}, got)
			}
		})
	}
}

// TestCheckRefuses: the check refuses what a cluster's schema would, in
// copies of fog.yaml changed by one line.
func TestCheckRefuses(t *testing.T) {
	src, err := os.ReadFile("../fog.yaml")
	require.NoError(t, err)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "  serviceName: fog", "  serviceNme: fog", `unknown field "serviceNme"`},
		{"misplaced field", "          imagePullPolicy: IfNotPresent", "          imagePullPolicy: IfNotPresent\n          replicas: 2", `unknown field "replicas"`},
		{"wrong type", "  replicas: 3", `  replicas: "three"`, "replicas"},
		{"wrong type of a quantity", "            storage: 10Gi", "            storage: ten gigabytes", "quantities must match"},
		{"unknown kind", "kind: StatefulSet", "kind: StatefulSett", "unknown apiVersion/kind"},
		{"wrong group", "apiVersion: apps/v1", "apiVersion: v1", `"v1/StatefulSet"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, string(src), tc.old)
			_, err := check([]byte(strings.Replace(string(src), tc.old, tc.new, 1)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
