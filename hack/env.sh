# Sourced by hack/ scripts: build caches live outside the clone so reruns are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eddy/target}"
export GOCACHE="${GOCACHE:-$HOME/.cache/eddy/go-build}"
export GOMODCACHE="${GOMODCACHE:-$HOME/.cache/eddy/go-mod}"
# Go (hack/build-controlplane) from its default install location when it is not on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
