#!/usr/bin/env bash
# Regenerates controllers/git/tests/data/semver_oracle.tsv: the answers of Masterminds/semver v3
# (the version Flux's source-controller pins) for the constraints and versions listed next to it.
# Needs Go; the module comes from the Go module proxy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/hack/env.sh"
data="$root/controllers/git/tests/data"
cd "$here"
[ -f go.sum ] || go mod tidy
go run . "$data/semver_constraints.txt" "$data/semver_versions.txt" > "$data/semver_oracle.tsv.tmp"
mv "$data/semver_oracle.tsv.tmp" "$data/semver_oracle.tsv"
echo "wrote $data/semver_oracle.tsv ($(wc -l < "$data/semver_oracle.tsv") lines)"
