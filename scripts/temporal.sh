#!/usr/bin/env bash
# Finds (or builds, once) the Temporal CLI, whose `server start-dev` is the local Temporal server.
# Prints the binary's path on stdout; everything else goes to stderr.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the cache dir, else `go install` into the cache dir.
# No npm or Debian package ships the Temporal server, so building it from its Go module is the
# one way that works on a machine that reaches only package registries.
set -euo pipefail

VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE_DIR="${STAGEPLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stageplane}"
BIN_DIR="$CACHE_DIR/temporal-cli-$VERSION"
BIN="$BIN_DIR/temporal"

if [ -n "${TEMPORAL_CLI:-}" ]; then
  if [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
  echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2
  exit 1
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

GO="${GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  fi
fi
if [ -z "$GO" ]; then
  cat >&2 <<MSG
The Temporal CLI was not found and Go is not installed to build it.
Either install Go 1.24 or newer (https://go.dev/dl/, or 'apt-get install golang-go' where it is
new enough) and run this again, or install the Temporal CLI yourself and set TEMPORAL_CLI to it,
or point TEMPORAL_ADDRESS at a running Temporal server.
MSG
  exit 1
fi

mkdir -p "$BIN_DIR"
# One builder at a time: tests and `npm start` may ask concurrently.
exec 9>"$BIN_DIR/.lock"
flock 9
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
echo "Building the Temporal CLI $VERSION with $("$GO" version) (first time only, ~3 minutes) into $BIN_DIR" >&2
TMP_BIN=$(mktemp -d "$BIN_DIR/build.XXXXXX")
GOBIN="$TMP_BIN" CGO_ENABLED=0 "$GO" install "github.com/temporalio/cli/cmd/temporal@$VERSION" >&2
mv "$TMP_BIN/temporal" "$BIN"
rmdir "$TMP_BIN"
echo "Built $BIN" >&2
echo "$BIN"
