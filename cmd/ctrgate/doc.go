// Command ctrgate is a command-line client over ctrgate.ContainerRuntime in
// the spirit of crictl: the same commands, flags, output and exit codes on
// every backend (podman-cli, podman-api, docker and the in-memory fake).
//
// # Usage
//
//	ctrgate [global flags] COMMAND [flags] [ARGS]
//
// Global flags, accepted before or after the command name:
//
//	--backend NAME   auto (default), podman-cli, podman-api, docker or fake.
//	                 Without the flag: $CTRGATE_BACKEND, then the config file,
//	                 then auto (package backend's LoadConfig).
//	--config FILE    backend config file (package backend's format).
//	--json           machine output (see "JSON output" below).
//	--timeout D      deadline for the whole command (30s, 2m); by default
//	                 none, and every engine call has its backend's own
//	                 per-call timeout (blocking calls excepted: wait, logs -f,
//	                 run -a).
//
// Commands:
//
//	info                      backend, engine, versions, rootless, network mode, GPU/CDI state
//	run [flags] IMAGE [CMD..] create and start a container; detached unless -a
//	ps [-a] [--prefix P] [-l k=v]... [-q]
//	inspect NAME
//	logs [-f] [--tail N] [--since T] [-t] NAME
//	wait NAME...              prints each exit code; exits with the last one
//	exec [-e K=V] [--secret-env K=V] [-w DIR] [-u USER] [-i] NAME CMD [ARG...]
//	stop [-t SECONDS] NAME...
//	kill [-s SIGNAL] NAME...
//	rm [-f] [-v] NAME...      one result line per name
//	events [--prefix P] [-l k=v]...  lifecycle events until interrupted or --timeout (exit 0)
//	images [-q] [-l k=v]... [REF-PREFIX]  images in local storage (literal reference prefix)
//	image exists REF          exit 0 when present, 1 when absent
//	image rm [-f] REF
//	image import-testimage    (re)import the built-in testimage into the engine
//	pull [--policy always|missing|never] REF
//	import [--entrypoint E] [--cmd C] [--env K=V] [--workdir D] [-l k=v] FILE|- REF
//	version
//
// # run
//
// run is detached by default: it creates and starts the container and
// prints its ID. With --ready MARKER (a substring) or --ready-regexp RE it
// first waits until an output line (stdout or stderr) matches, at most
// --ready-timeout (default 60s). With -a/--attach it streams the
// container's output (stdout to stdout, stderr to stderr) until the
// container exits, and exits with the container's exit code; --ready then
// checks that the marker appears in time. --rm removes the container when
// it exits (detached: by the engine; attached: by ctrgate once the exit
// code is known) and also when it fails to become ready or the command is
// interrupted. Other flags: --name, -e K=V (K alone: take the value from
// this environment), --secret-env K=V, -l k=v, -p [hostip:]hostport:cport[/proto],
// -v src:dst[:ro], --tmpfs dst[:size=N], --gpus all|0,1|nvidia.com/gpu=0,
// --user, --workdir, --network MODE[:OPTS]|NAME, --entrypoint PROG|JSON-array,
// --pull missing|never|always, --hostname, --memory/-m SIZE, --cpus N,
// --pids-limit N, --ulimit name=soft[:hard], --stop-signal SIG,
// --stop-timeout SECONDS, --cap-add CAP, --cap-drop CAP, --security-opt OPT
// (no-new-privileges included), --read-only, --init, --userns
// host|auto|keep-id[:uid=N,gid=N], --add-host host:ip, --annotation k=v,
// --runtime NAME. Every ContainerSpec field has a flag (a test checks it).
//
// # No engine: exit 125, never a silent fake
//
// When the backend is auto and no engine answers (backend.Open fails with
// ctrgate.ErrEngineUnavailable), ctrgate exits 125 with one error line
// naming what was probed and a hint on how to start an engine. It never
// falls back to the in-memory fake by itself, so a script that checks the
// exit code never believes a container ran.
//
// --backend fake selects an in-memory fake runtime that holds one image,
// "testimage", whose entrypoint is the conformance test program (commands
// echo, sleep, exit N, marker TEXT DELAY, env, serve-tcp PORT, ...; see
// package conformance/testprog). The fake lives inside one ctrgate process:
// a container started by one command is gone when that command ends, so a
// detached `ctrgate run` followed by a separate `ctrgate ps` shows nothing.
// The one-command demo works anywhere:
//
//	ctrgate --backend fake run --rm -a --ready READY testimage marker READY 500ms
//
// starts the container, waits for the READY line, shows the output, removes
// the container and exits with its exit code (0). `make demo` uses the fake
// only when no engine answers, and says so.
//
// # The built-in testimage on a real engine
//
// The same demo works on podman-cli, podman-api and docker without a
// registry: the ctrgate binary is multi-call (started under the name
// "testprog" it runs the conformance test program with the real process,
// testprog.Main(testprog.OS())), so it is its own test image. When `run`
// is given exactly the reference "testimage" (not "localhost/testimage",
// nor a tag), the backend is not the fake and the engine does not have the
// image (ImageExists), ctrgate first prints
//
//	ctrgate: importing built-in testimage into <backend>
//
// on stderr and imports a root file system holding its own executable
// (/proc/self/exe) as /testprog (0755) with the conformance image's layout
// (/etc/passwd and /etc/group with root and "ctrgate" uid/gid 1000, /tmp
// 1777, /data, /root, /proc, /sys, /dev) and the entrypoint /testprog. On
// Podman it is stored as localhost/testimage:latest, on Docker as
// testimage:latest; both resolve "testimage" to it. An image "testimage"
// already present is used as it is, even one from an older ctrgate;
// `ctrgate image import-testimage` re-imports it from the running binary
// (it always imports; on the fake it only says the image is built in).
//
// This needs a statically linked Linux binary. A binary with a PT_INTERP
// program header (built with cgo: the default `go build` on a machine with
// a C compiler) cannot run alone in an image; the import is refused with
// one error line and the hint "build ctrgate with CGO_ENABLED=0". Build it
// with
//
//	CGO_ENABLED=0 go build -tags containers_image_openpgp,exclude_graphdriver_btrfs ./cmd/ctrgate
//
// (about 40 MB on linux/amd64, 28 MB with -ldflags="-s -w"; importing it
// took 0.5 s on an idle Podman 4.3 and 0.3 s on Docker 20.10 here).
//
// # Errors and exit codes
//
// An error is printed as ONE line on stderr, "ctrgate: <message>", followed
// by "hint: <advice>" when there is advice (a GPU setup error carries the
// GPU hint of *ctrgate.GPUConfigError; an unreachable engine, a backend that
// is not compiled in, missing containers or images, usage mistakes have
// their own). stop, kill and rm print one line per failed name.
//
// Exit codes: the container's exit code for `run -a` and `wait`, the
// command's exit code for `exec` (as docker and podman do), 1 for
// `image exists` of an absent image, 125 for errors of the tool or the
// engine (bad flags, unknown containers, unreachable engine, readiness
// failures), 130 when interrupted, 0 otherwise.
//
// # Secrets
//
// Values given with --secret-env, and values of -e entries whose names look
// sensitive (redact.IsSensitiveKey: KEY, TOKEN, SECRET, API, PASSWORD,
// PRIVATE, ...), never appear in anything ctrgate prints: every output path
// (tables, JSON, container output, exec output, errors, hints) passes
// through a filter that masks them as [REDACTED]. Container output and
// error messages are also passed through redact.Text, which masks the
// values of KEY=VALUE pairs with sensitive keys, so `logs` masks them even
// in a later invocation that does not know the values.
//
// # JSON output
//
// With --json, stdout carries only JSON; errors still go to stderr as text.
// Field names are stable (pinned by testdata/*.golden): fields may be
// added, never renamed or removed. Times are RFC 3339 in UTC with
// nanoseconds; an unknown time is omitted.
//
// info: one object
//
//	{"backend", "engine", "version", "api_version", "rootless" (bool),
//	 "cgroup_version", "rootless_network_mode", "oci_runtime",
//	 "cdi_gpus" (bool), "cdi_devices" ([]string), "fallback" (bool: always
//	 false since auto no longer falls back to the fake; kept for stability)}
//
// images: an array (possibly empty) of images, newest first
//
//	{"id" (hex, no "sha256:"), "refs" ([]string, sorted; empty when
//	 untagged), "size" (bytes), "created"?, "labels" (sensitive values
//	 masked)}
//
// ps: an array (possibly empty) of containers; inspect: one container
//
//	{"id", "name", "image", "image_id"?, "status" (created, running, paused,
//	 restarting, stopping, exited, dead, removing, unknown), "raw_status"
//	 (the engine's word), "running" (bool), "exit_code", "created"?,
//	 "started_at"?, "finished_at"?, "pid"?, "oom_killed"?, "error"?,
//	 "labels" (object; sensitive values masked), "ports" ([{"host_ip",
//	 "host_port", "container_port", "protocol"}])}
//
// (? marks fields omitted when empty.)
//
// logs, and the output lines of run -a: NDJSON, one object per line
//
//	{"stream": "stdout"|"stderr", "text", "time"?}
//
// run: one object (detached: the only output; attached: the last NDJSON line)
//
//	{"id", "name", "image", "ready" (bool), "ready_line"?, "ready_after_ms"?,
//	 "attached" (bool), "exited" (bool), "exit_code", "removed" (bool)}
//
// wait: an array of {"name", "exit_code"}
//
// exec: {"exit_code", "stdout", "stderr"}
//
// stop, kill, rm: an array with one element per name, in order
//
//	{"name", "ok" (bool), "result": "stopped"|"killed"|"removed"|"not_found"|"failed", "error"?}
//
// image exists / image rm / pull / import: one object
//
//	{"ref", "exists"? (bool, image exists), "removed"?, "pulled"?,
//	 "imported"?, "policy"?, "elapsed_ms"?}
//
// events: NDJSON, one object per event
//
//	{"type": "create"|"start"|"die"|"remove", "raw", "id", "name", "image",
//	 "exit_code"? (die only), "labels", "time"?}
//
// version: {"version"}
//
// # Backends
//
// The binary blank-imports every backend (podmancli, podmanapi, docker,
// fake); building it needs the Podman bindings' build tags, and
// CGO_ENABLED=0 for the built-in testimage on real engines (see above):
//
//	CGO_ENABLED=0 go build -tags containers_image_openpgp,exclude_graphdriver_btrfs ./cmd/ctrgate
package main
