// The Go module proxy does not serve k8s.io/sample-cli-plugin v0.36.3. Nothing in the control plane imports it,
// but k8s.io/kubernetes lists it in its go.mod, so the module graph needs some module at that path.
module k8s.io/sample-cli-plugin

go 1.26.0
