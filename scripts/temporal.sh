#!/usr/bin/env bash
# Finds (or builds, once) the Temporal CLI, whose `server start-dev` is the local Temporal server.
# Prints the binary's path on stdout; everything else goes to stderr.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the cache dir, else `go install` into the cache dir
# (scripts/lib/go-tool.sh says why it is built from its Go module).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"
go_tool temporal "${TEMPORAL_CLI_VERSION:-v1.5.1}" temporal-cli github.com/temporalio/cli/cmd/temporal TEMPORAL_CLI 'The Temporal CLI' \
  'or install the Temporal CLI yourself and set TEMPORAL_CLI to it,
or point TEMPORAL_ADDRESS at a running Temporal server.'
