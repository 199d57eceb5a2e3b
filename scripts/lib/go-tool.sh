# Sourced by scripts/temporal.sh and scripts/helm.sh: find a Go program, or build it once from its
# Go module into the cache. No npm or Debian package ships the Temporal CLI or Helm 3 here, and a
# machine that reaches only package registries cannot download release binaries: building from
# the Go module proxy is the one way that works.
#
# go_tool NAME VERSION CACHE_NAME MODULE OVERRIDE_VAR LABEL HINT
#   NAME          the binary's name (looked up on PATH)
#   VERSION       the module version to build
#   CACHE_NAME    the cache folder, under ~/.cache/stageplane
#   MODULE        the Go package to `go install` (without @version)
#   OVERRIDE_VAR  the variable that names an executable to use instead (TEMPORAL_CLI, HELM)
#   LABEL         how messages name the program
#   HINT          the last line of the "no Go" message: what else the user can do
# Prints the binary's path on stdout; everything else goes to stderr. Order: $OVERRIDE_VAR, NAME
# on PATH, the cache, else `go install` into the cache (one builder at a time).
go_tool() {
  local name=$1 version=$2 cache_name=$3 module=$4 override_var=$5 label=$6 hint=$7
  local cache_dir="${STAGEPLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stageplane}"
  local bin_dir="$cache_dir/$cache_name-$version"
  local bin="$bin_dir/$name"
  local override="${!override_var:-}"

  if [ -n "$override" ]; then
    if [ -x "$override" ]; then echo "$override"; return 0; fi
    echo "$override_var=$override is not an executable file" >&2
    return 1
  fi
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi

  local go="${GO:-}"
  if [ -z "$go" ]; then
    if command -v go >/dev/null 2>&1; then go=$(command -v go)
    elif [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go
    fi
  fi
  if [ -z "$go" ]; then
    cat >&2 <<MSG
$label was not found and Go is not installed to build it.
Either install Go 1.24 or newer (https://go.dev/dl/, or 'apt-get install golang-go' where it is
new enough) and run this again, $hint
MSG
    return 1
  fi

  mkdir -p "$bin_dir"
  # One builder at a time: parallel test files, `npm start` and CI may ask concurrently.
  exec 9>"$bin_dir/.lock"
  flock 9
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
  echo "Building $label $version with $("$go" version) (first time only, a few minutes) into $bin_dir" >&2
  local tmp_bin
  tmp_bin=$(mktemp -d "$bin_dir/build.XXXXXX")
  GOBIN="$tmp_bin" CGO_ENABLED=0 "$go" install "$module@$version" >&2
  mv "$tmp_bin/$name" "$bin"
  rmdir "$tmp_bin"
  echo "Built $bin" >&2
  echo "$bin"
}
