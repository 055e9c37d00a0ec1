// Package schemacheck holds the schema check of fog's Kubernetes manifests
// (deploy/kubernetes/*.yaml), in its own Go module so that fog's go.mod
// does not carry the Kubernetes API types: each document is decoded
// strictly into the k8s.io/api type of its apiVersion and kind, which
// refuses a field that type does not have, a value of the wrong type and a
// kind fog does not know. `make test` runs it (`make k8s-schema`).
package schemacheck
