#!/usr/bin/env bash
# Finds (or builds, once) Helm, which lints and renders deploy/helm/stageplane in the tests and CI.
# Prints the binary's path on stdout; everything else goes to stderr.
# Order: $HELM, `helm` on PATH, the cache dir, else `go install` into the cache dir.
# Built from its Go module like the Temporal CLI (scripts/temporal.sh): a machine that reaches
# only package registries cannot download the release tarball from get.helm.sh.
set -euo pipefail

VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_DIR="${STAGEPLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stageplane}"
BIN_DIR="$CACHE_DIR/helm-$VERSION"
BIN="$BIN_DIR/helm"

if [ -n "${HELM:-}" ]; then
  if [ -x "$HELM" ]; then echo "$HELM"; exit 0; fi
  echo "HELM=$HELM is not an executable file" >&2
  exit 1
fi
if command -v helm >/dev/null 2>&1; then command -v helm; exit 0; fi
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

GO="${GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  fi
fi
if [ -z "$GO" ]; then
  cat >&2 <<MSG
Helm was not found and Go is not installed to build it.
Either install Go 1.24 or newer (https://go.dev/dl/, or 'apt-get install golang-go' where it is
new enough) and run this again, or install Helm 3 yourself and set HELM to it.
MSG
  exit 1
fi

mkdir -p "$BIN_DIR"
# One builder at a time: parallel test files and CI may ask concurrently.
exec 9>"$BIN_DIR/.lock"
flock 9
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
echo "Building Helm $VERSION with $("$GO" version) (first time only, a few minutes) into $BIN_DIR" >&2
TMP_BIN=$(mktemp -d "$BIN_DIR/build.XXXXXX")
GOBIN="$TMP_BIN" CGO_ENABLED=0 "$GO" install "helm.sh/helm/v3/cmd/helm@$VERSION" >&2
mv "$TMP_BIN/helm" "$BIN"
rmdir "$TMP_BIN"
echo "Built $BIN" >&2
echo "$BIN"
