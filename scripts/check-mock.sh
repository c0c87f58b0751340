#!/usr/bin/env bash
# scripts/check-mock.sh — fail when ctrgatemock/runtime_mock.go is stale.
#
# Regenerates the gomock mock of ctrgate.ContainerRuntime into a temporary
# directory with the exact mockgen version of the //go:generate line in
# runtime.go and compares it with the checked-in file. Exit status 0: fresh;
# 1: stale (the diff is printed; run `go generate ./runtime.go` to refresh);
# 2: mockgen could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

MOCKGEN=go.uber.org/mock/mockgen@v0.6.0
DEST=ctrgatemock/runtime_mock.go

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# mockgen warns that it cannot infer -self_package for a destination outside
# the module; that is harmless here, so its output is shown only on failure.
if ! go run "$MOCKGEN" -destination="$tmp/runtime_mock.go" -package=ctrgatemock \
    github.com/ctrgate/ctrgate ContainerRuntime 2>"$tmp/mockgen.log"; then
  cat "$tmp/mockgen.log" >&2
  echo "check-mock: mockgen failed" >&2
  exit 2
fi

# mockgen records the destination it was given in its header comment; put
# back the checked-in one before comparing.
sed -i "s#-destination=$tmp/runtime_mock.go#-destination=$DEST#" "$tmp/runtime_mock.go"

if [[ ! -f $DEST ]]; then
  echo "check-mock: $DEST is missing; run: go generate ./runtime.go" >&2
  exit 1
fi
if ! diff -u "$DEST" "$tmp/runtime_mock.go"; then
  echo "check-mock: $DEST is stale; run: go generate ./runtime.go" >&2
  exit 1
fi
echo "check-mock: $DEST is up to date"
