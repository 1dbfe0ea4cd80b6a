# Sourced by hack/ scripts: build caches live outside the clone so reruns are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eddy/target}"
export GOCACHE="${GOCACHE:-$HOME/.cache/eddy/go-build}"
export GOMODCACHE="${GOMODCACHE:-$HOME/.cache/eddy/go-mod}"
