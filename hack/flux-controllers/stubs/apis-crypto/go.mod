module github.com/fluxcd/pkg/apis/crypto

go 1.27.0

require (
	github.com/google/go-containerregistry v0.22.1
	github.com/spiffe/go-spiffe/v2 v2.9.0
)

require github.com/opencontainers/go-digest v1.0.0 // indirect
