#!/usr/bin/env bash
# scripts/capture-fixtures.sh — capture podman's real `--format json` output
# for podmancli's parser tests (podmancli/testdata/<dir>).
#
# Usage: scripts/capture-fixtures.sh PODMAN OUTDIR
#   e.g. scripts/capture-fixtures.sh /var/tmp/ctrgate/matrix/bin/podman-rl5 podmancli/testdata/podman-5.4.2
#
# PODMAN is a podman command (scripts/matrix.sh's wrappers). It imports the
# test program as localhost/hello:1, makes three containers (fx-created with
# a published port, fx-running with a udp port and a port range, fx-exited
# exiting 3) and writes ps.json, ps-empty.json (no container matches),
# inspect-{created,running,exited}.json,
# info.json, version.json, images.json and events.jsonl, then removes what it
# made.
set -euo pipefail
cd "$(dirname "$0")/.."
P=$1
OUT=$2
mkdir -p "$OUT"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctrgate-capture.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp/rootfs/testprog" ./conformance/testprog/cmd/testprog
mkdir -p "$tmp/rootfs/tmp" "$tmp/rootfs/etc"
tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
chmod -R a+rX "$tmp"
fx() { "$P" rm -f -t 0 fx-created fx-running fx-exited >/dev/null 2>&1 || true; }
fx
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1
"$P" import --quiet --change 'ENTRYPOINT ["/testprog"]' - localhost/hello:1 <"$tmp/rootfs.tar" >/dev/null
"$P" create --name fx-created --label app=fx --label tier=web -p 127.0.0.1:18081:8080 localhost/hello:1 sleep 100s >/dev/null
"$P" run -d --name fx-running --label app=fx -p 18082:8080/udp -p 127.0.0.1:40000-40001:9090-9091 localhost/hello:1 sleep 300s >/dev/null
"$P" run --name fx-exited --label app=fx --label tier=web localhost/hello:1 exit 3 >/dev/null || true
"$P" ps -a --format json --filter name=fx- >"$OUT/ps.json"
"$P" ps -a --format json --filter name=^fx-none- >"$OUT/ps-empty.json"
for s in created running exited; do
	"$P" container inspect --format json fx-$s >"$OUT/inspect-$s.json"
done
"$P" info --format json >"$OUT/info.json"
"$P" version --format json >"$OUT/version.json"
"$P" images --format json --filter reference=localhost/hello >"$OUT/images.json"
fx
"$P" events --stream=false --format json --filter type=container --since "$since" >"$OUT/events.jsonl"
"$P" rmi -f localhost/hello:1 >/dev/null 2>&1 || true
echo "captured $(ls "$OUT" | wc -l) files in $OUT with $("$P" version --format '{{.Client.Version}}')"
