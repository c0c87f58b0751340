// Package sidebyside measures ctrgate beside the raw clients it replaces:
// each operation of each backend runs in one loop with its raw counterpart
// (the podman and docker CLIs, the Podman bindings, the Docker client),
// alternating which goes first, and the table gives medians, p10–p90 and
// the median of the pairwise ratios (ctrgate ÷ raw).
//
// Its only test, TestSideBySide, is built with -tags ctrgate_bench (added
// to the usual tags) and run by `make bench` (scripts/bench.sh) on the
// project's engines; it is not part of `make test`.
package sidebyside
