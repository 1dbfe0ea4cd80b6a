#!/usr/bin/env bash
# Builds Flux's own source-controller and kustomize-controller v1.10.1 — the reference Eddy is
# compared against — from the Go module proxy into OUT (called by `hack/build-controlplane --flux`,
# which caches the result keyed by this directory's files):
#
#   OUT/source-controller  OUT/kustomize-controller   CGO_ENABLED=0 go build -trimpath, as their Dockerfiles
#   OUT/crds/*.yaml                                   the CRDs shipped in the two modules (config/crd/bases)
#   OUT/PROVENANCE                                    how every module the proxy refuses was obtained, and
#                                                     whether it is byte-identical to what upstream built with;
#                                                     the binaries' sha256 (the build is reproducible: the same
#                                                     inputs give the same bytes on any machine)
#
# The proxy serves both controller modules but refuses (403) the zips of some of their
# dependencies. Each is replaced in a copy of the controller's go.mod:
#
# - fluxcd/pkg lockedfile v0.9.0, masktoken v0.10.0, http/transport v0.9.0: rebuilt from a
#   fluxcd/pkg git checkout (git archive of the directory, the repository LICENSE, the go.mod the
#   proxy serves) and checked: their h1 hash must equal the controller's go.sum line, or the build
#   fails. These are exactly upstream's.
# - fluxcd/pkg artifact v0.27.1: the code of v0.29.0 (served) with v0.27.1's go.mod, so the build
#   list stays upstream's. v0.29.0 differs from the code in the July 2026 checkout by the artifact
#   server's TLS option (which v0.27.1 has: source-controller v1.10.1 sets it), its header-read and
#   idle timeouts (10 s, 120 s) and a slices.Contains refactor; v0.27.1's own hash could not be
#   reproduced, so which of these it already had is unknown. The storage (archives, digests, GC,
#   locks) is the same code in both.
# - fluxcd/pkg http/fetch v0.30.1 (kustomize-controller): the checkout's code plus
#   http-fetch-v0.30.1.patch, which adds what v0.30.1 has and the checkout lacks (ErrDigestMismatch,
#   wrapped by the digest check, and WithTLSConfig). Not byte-identical.
# - opencontainers/go-digest/blake3 (pseudo-version of 2026-10-15): the go-digest checkout's blake3/
#   directory (March 2026) with the served go.mod. Only --artifact-digest-algo=blake3 uses it.
# - fluxcd/pkg spiffe v0.2.0 and apis/crypto v0.5.0: no version of either is served and the checkout
#   predates them, so stubs/ stands in (same module paths and requirements): SPIFFE flags make the
#   controllers exit at start, a cloud provider (aws, azure, gcp) fails with AuthenticationFailed,
#   everything else (generic provider, Secrets, no credentials) takes upstream's paths.
# - sigstore/cosign/v3 v3.1.4 -> v3.1.3, go-containerregistry k8schain 2026-10-13 -> 2026-02-05,
#   and (with that cosign) mozillazg/docker-credential-acr-helper v0.4.1 -> v0.4.0 with its
#   pkg/acr nested module emptied: nearest served versions; only OCIRepository signature
#   verification (cosign) and registry credential helpers use them.
#
# Inputs: the Go module proxy (with GOTOOLCHAIN=go1.27.3, which go downloads if missing), and two
# git checkouts at pinned commits: FLUXCD_PKG_GIT (default /work/.mirror/fluxcd+pkg/repo) and
# GO_DIGEST_GIT (default /work/.mirror/opencontainers+go-digest/repo).
set -euo pipefail
out="${1:?usage: build.sh OUT}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../env.sh"

toolchain=go1.27.3
source_controller=v1.10.1
kustomize_controller=v1.10.1
fluxcd_pkg_git="${FLUXCD_PKG_GIT:-/work/.mirror/fluxcd+pkg/repo}"
fluxcd_pkg_commit=e2cfd1a2d1815a81b3e77ef750e6528282ccccd6
go_digest_git="${GO_DIGEST_GIT:-/work/.mirror/opencontainers+go-digest/repo}"
go_digest_commit=137fd2bb009d6540304bc01b3c7758777514e430
blake3_version=v0.0.0-20261015205711-63db54280247

export GOTOOLCHAIN="$toolchain" CGO_ENABLED=0

log() { echo "hack/flux-controllers: $*" >&2; }
die() { log "$*"; exit 1; }

for g in "$fluxcd_pkg_git:$fluxcd_pkg_commit" "$go_digest_git:$go_digest_commit"; do
  git -C "${g%:*}" cat-file -e "${g##*:}^{commit}" 2>/dev/null \
    || die "git checkout ${g%:*} with commit ${g##*:} not found (set FLUXCD_PKG_GIT / GO_DIGEST_GIT)"
done

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mods="$work/mods"
mkdir -p "$mods" "$out/crds"
cd "$work"
provenance="$out/PROVENANCE"
echo "Flux reference controllers, built by hack/flux-controllers/build.sh with $toolchain" >"$provenance"

# module_dir MODULE@VERSION -> the extracted module source (downloads it).
module_dir() {
  local d
  d="$(go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -d "$d" ] || die "$1: not served by the module proxy"
  echo "$d"
}

# served_gomod MODULE@VERSION -> path of the go.mod the proxy serves (also when it refuses the zip).
served_gomod() {
  local f
  f="$(go list -m -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$f" ] || die "$1: the proxy serves no go.mod"
  echo "$f"
}

# h1 DIR MODULE@VERSION -> the go.sum hash ("h1:...") of a module whose files are DIR.
h1() {
  (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | while read -r f; do
    printf '%s  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$2/$f"
  done) | openssl dgst -sha256 -binary | base64 | sed 's/^/h1:/'
}

# expected_h1 MODULE VERSION -> the hash the controllers' go.sum files record.
expected_h1() {
  awk -v m="$1" -v v="$2" '$1 == m && $2 == v { print $3; exit }' "$work"/*/go.sum
}

# from_git REPO COMMIT SUBDIR MODULE VERSION DEST: the module as the proxy zips it from git.
from_git() {
  local repo="$1" commit="$2" sub="$3" module="$4" version="$5" dest="$6" strip
  strip=$(($(tr -cd / <<<"$sub" | wc -c) + 1))
  mkdir -p "$dest"
  git -C "$repo" archive "$commit" "$sub" | tar -x -C "$dest" --strip-components="$strip"
  [ -f "$dest/LICENSE" ] || git -C "$repo" show "$commit:LICENSE" >"$dest/LICENSE"
  cp "$(served_gomod "$module@$version")" "$dest/go.mod"
  chmod -R u+w "$dest"
}

# record MODULE VERSION DIR HOW [--must-match]: notes in PROVENANCE whether DIR is upstream's module.
record() {
  local module="$1" version="$2" dir="$3" how="$4" want got verdict
  want="$(expected_h1 "$module" "$version")"
  got="$(h1 "$dir" "$module@$version")"
  if [ -n "$want" ] && [ "$got" = "$want" ]; then
    verdict="identical to upstream's ($got, as in go.sum)"
  else
    verdict="NOT identical to upstream's (go.sum ${want:-has no line}, this $got)"
    [ "${5:-}" = --must-match ] && die "$module@$version: $verdict"
  fi
  printf -- '- %s %s: %s; %s\n' "$module" "$version" "$how" "$verdict" >>"$provenance"
}

# The two controller modules, each with its api module where its go.mod expects it (./api).
for c in source-controller:$source_controller kustomize-controller:$kustomize_controller; do
  name="${c%%:*}" version="${c#*:}"
  src="$(module_dir "github.com/fluxcd/$name@$version")"
  cp -r "$src" "$work/$name"
  chmod -R u+w "$work/$name"
  rm -rf "$work/$name/api"
  cp -r "$(module_dir "github.com/fluxcd/$name/api@$version")" "$work/$name/api"
  chmod -R u+w "$work/$name/api"
  cp "$src"/config/crd/bases/*.yaml "$out/crds/"
done

pkg="github.com/fluxcd/pkg"
for m in lockedfile:v0.9.0 masktoken:v0.10.0 http/transport:v0.9.0; do
  sub="${m%%:*}" version="${m#*:}"
  from_git "$fluxcd_pkg_git" "$fluxcd_pkg_commit" "$sub" "$pkg/$sub" "$version" "$mods/$sub"
  record "$pkg/$sub" "$version" "$mods/$sub" "fluxcd/pkg@${fluxcd_pkg_commit:0:12}:$sub" --must-match
done

cp -r "$(module_dir "$pkg/artifact@v0.29.0")" "$mods/artifact"
chmod -R u+w "$mods/artifact"
cp "$(served_gomod "$pkg/artifact@v0.27.1")" "$mods/artifact/go.mod"
record "$pkg/artifact" v0.27.1 "$mods/artifact" "the code of artifact v0.29.0 with v0.27.1's go.mod"

from_git "$fluxcd_pkg_git" "$fluxcd_pkg_commit" http/fetch "$pkg/http/fetch" v0.30.1 "$mods/http/fetch"
(cd "$mods/http/fetch" && patch -s -p1 <"$here/http-fetch-v0.30.1.patch")
record "$pkg/http/fetch" v0.30.1 "$mods/http/fetch" \
  "fluxcd/pkg@${fluxcd_pkg_commit:0:12}:http/fetch + http-fetch-v0.30.1.patch"

from_git "$go_digest_git" "$go_digest_commit" blake3 github.com/opencontainers/go-digest/blake3 \
  "$blake3_version" "$mods/blake3"
record github.com/opencontainers/go-digest/blake3 "$blake3_version" "$mods/blake3" \
  "opencontainers/go-digest@${go_digest_commit:0:12}:blake3"

cp -r "$here/stubs" "$mods/stubs"

# pkg/acr as a module that provides no package, so the import resolves to acr-helper v0.4.0's own copy.
mkdir -p "$mods/acr-empty"
cp "$(served_gomod github.com/mozillazg/docker-credential-acr-helper/pkg/acr@v0.2.2)" "$mods/acr-empty/go.mod"

cat >>"$provenance" <<EOF
- $pkg/spiffe v0.2.0, $pkg/apis/crypto v0.5.0: stubs (hack/flux-controllers/stubs): no SPIFFE, no workload identity
- github.com/sigstore/cosign/v3 v3.1.4: replaced by v3.1.3 (source-controller)
- github.com/google/go-containerregistry/pkg/authn/k8schain v0.0.0-20261013193525-92aac6186bc4: replaced by v0.0.0-20260205022027-93aa2732266a (source-controller)
- github.com/mozillazg/docker-credential-acr-helper v0.4.1: replaced by v0.4.0, its pkg/acr module v0.2.2 by an empty module (cosign v3.1.3's dependency)
Every other module is the proxy's, checked against the controllers' go.sum by go.
EOF

replaces() { # NAME -> the replace block for that controller
  cat <<EOF

// Added by Eddy's hack/flux-controllers/build.sh: modules the Go module proxy does not serve.
replace (
	$pkg/lockedfile => ../mods/lockedfile
	$pkg/masktoken => ../mods/masktoken
	$pkg/http/transport => ../mods/http/transport
	$pkg/http/fetch => ../mods/http/fetch
	$pkg/artifact => ../mods/artifact
	$pkg/spiffe => ../mods/stubs/spiffe
	$pkg/apis/crypto => ../mods/stubs/apis-crypto
	github.com/opencontainers/go-digest/blake3 => ../mods/blake3
)
EOF
  if [ "$1" = source-controller ]; then
    cat <<EOF

replace (
	github.com/sigstore/cosign/v3 => github.com/sigstore/cosign/v3 v3.1.3
	github.com/google/go-containerregistry/pkg/authn/k8schain => github.com/google/go-containerregistry/pkg/authn/k8schain v0.0.0-20260205022027-93aa2732266a
	github.com/mozillazg/docker-credential-acr-helper => github.com/mozillazg/docker-credential-acr-helper v0.4.0
	github.com/mozillazg/docker-credential-acr-helper/pkg/acr => ../mods/acr-empty
)
EOF
  fi
}

# Relative replace paths (the build info records them as written), so that a build is
# byte-for-byte reproducible wherever it runs.
for name in source-controller kustomize-controller; do
  replaces "$name" >>"$work/$name/go.mod"
  log "building $name (nice -n 10)"
  (cd "$work/$name" && GOFLAGS=-mod=mod nice -n 10 go build -trimpath -o "$out/$name" .)
done
chmod 644 "$out"/crds/*.yaml
(cd "$out" && sha256sum source-controller kustomize-controller) >>"$provenance"
log "built (PROVENANCE next to the binaries says how)"
