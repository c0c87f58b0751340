#!/usr/bin/env bash
# scripts/bench.sh — the same benchmarks (conformance.Benchmark) on every
# backend: the fake, podman-cli, podman-api and docker (the real dockerd).
#
# It starts the project's Podman and Docker engines (scripts/podman.sh up,
# scripts/docker.sh up), runs
#   go test -tags ... -run '^$' -bench . -benchtime ${BENCHTIME:-20x} -count 1
# on ./fake/ ./podmancli/ ./podmanapi/ ./docker/ (go test runs the packages'
# benchmarks one after the other), prints the output and then a table of
# ms/op (backend × benchmark), and stops only the engines it started. A
# backend whose engine is missing is skipped by its benchmark ("-" in the
# table). The raw output is kept in $CTRGATE_STATE_DIR/bench.log. Then
# the side-by-side table: every operation beside its raw client
# (internal/sidebyside), with medians, p10-p90 and pairwise ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

TAGS=containers_image_openpgp,exclude_graphdriver_btrfs
export CTRGATE_STATE_DIR=${CTRGATE_STATE_DIR:-/var/tmp/ctrgate}
mkdir -p "$CTRGATE_STATE_DIR"
log=$CTRGATE_STATE_DIR/bench.log

# Leave the engines as they were: stop only those this script starts.
podman_was_up=false docker_was_up=false
scripts/podman.sh status >/dev/null 2>&1 && podman_was_up=true
scripts/docker.sh status >/dev/null 2>&1 && docker_was_up=true
cleanup() {
  $docker_was_up || scripts/docker.sh down || true
  $podman_was_up || scripts/podman.sh down || true
}
trap cleanup EXIT

echo "== engines (podman was running: $podman_was_up, docker was running: $docker_was_up)"
scripts/podman.sh up
scripts/docker.sh up
eval "$(scripts/podman.sh env)"
eval "$(scripts/docker.sh env)"

echo "== go test -bench (log: $log)"
set +e
go test -tags "$TAGS" -run '^$' -bench . -benchtime "${BENCHTIME:-20x}" -count 1 \
  ./fake/ ./podmancli/ ./podmanapi/ ./docker/ 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

echo "== ms/op"
# "pkg: .../podmancli" names the backend of the lines that follow;
# "BenchmarkConformance/Inspect-2  20  2211767 ns/op ..." gives one cell.
awk '
  /^pkg: / { n = split($2, p, "/"); be = p[n]; if (!(be in seen)) { seen[be] = 1; rows[++nr] = be } }
  /^Benchmark[^ ]*\// && / ns\/op/ {
    name = $1; sub(/^Benchmark[^\/]*\//, "", name); sub(/-[0-9]+$/, "", name)
    if (!(name in known)) { known[name] = 1; cols[++nc] = name }
    for (i = 2; i < NF; i++) if ($(i + 1) == "ns/op") ms[be, name] = $i / 1e6
  }
  END {
    printf "%-10s", "backend"; for (c = 1; c <= nc; c++) printf " %16s", cols[c]; print ""
    for (r = 1; r <= nr; r++) {
      printf "%-10s", rows[r]
      for (c = 1; c <= nc; c++) if ((rows[r], cols[c]) in ms) printf " %16.3f", ms[rows[r], cols[c]]; else printf " %16s", "-"
      print ""
    }
  }' "$log"
echo "== readiness latency (ms after the line is written; ReadinessLatency)"
echo "   ctrgate's follower beside the engine's own (podman logs -f / docker logs -f) on the same container"
awk '
  /^pkg: / { n = split($2, p, "/"); be = p[n] }
  /^BenchmarkConformance[^ ]*\/ReadinessLatency/ {
    med = p90 = rmed = rp90 = "-"
    for (i = 2; i < NF; i++) {
      if ($(i + 1) == "ms-median") med = $i; if ($(i + 1) == "ms-p90") p90 = $i
      if ($(i + 1) == "raw-ms-median") rmed = $i; if ($(i + 1) == "raw-ms-p90") rp90 = $i
    }
    printf "%-22s ctrgate median %8s p90 %8s   engine median %8s p90 %8s\n", be (index($1, "OnPodman") ? " (docker-on-podman)" : ""), med, p90, rmed, rp90
  }' "$log"

# Side by side: each operation beside the raw client it replaces, in one
# loop, order alternating (internal/sidebyside, -tags ctrgate_bench);
# CTRGATE_BENCH_N pairs per row (default 20), StatesByPrefix also over
# CTRGATE_BENCH_SCALE containers (default 1000). The table is kept in
# $CTRGATE_STATE_DIR/sidebyside.md (BENCHMARKS.md records one).
echo "== side by side with the raw clients (${CTRGATE_BENCH_N:-20} pairs per row; log: $log)"
table=$CTRGATE_STATE_DIR/sidebyside.md
set +e
CTRGATE_BENCH_SCALE=${CTRGATE_BENCH_SCALE:-1000} CTRGATE_BENCH_TABLE=$table go test -tags "$TAGS,ctrgate_bench" -count 1 -timeout 60m -run '^TestSideBySide$' -v \
  ./internal/sidebyside/ >>"$log" 2>&1 || rc=1
set -e
if [ -s "$table" ]; then cat "$table"; else echo "no table: see $log"; rc=1; fi
exit "$rc"
