#!/usr/bin/env bash
# Finds (or builds, once) Helm, which lints and renders deploy/helm/stageplane in the tests and CI.
# Prints the binary's path on stdout; everything else goes to stderr.
# Order: $HELM, `helm` on PATH, the cache dir, else `go install` into the cache dir
# (scripts/lib/go-tool.sh says why it is built from its Go module).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-tool.sh"
go_tool helm "${HELM_VERSION:-v3.22.0}" helm helm.sh/helm/v3/cmd/helm HELM 'Helm' 'or install Helm 3 yourself and set HELM to it.'
