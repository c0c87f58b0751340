// Package podmancli implements ctrgate.ContainerRuntime by running the podman
// binary (os/exec, never a shell) and reading its machine formats (JSON).
//
// New gives the driver behind the contract layer (ctrgate.Enforce), which
// checks every argument first, applies the per-call timeout when the context
// has none (Config.DefaultTimeout) and redacts secrets from errors. The driver
// kills podman's whole process group when the context ends and reaps every
// child. Engine failures are mapped to ctrgate's sentinels from podman's exit
// status and stderr.
//
// Secret environment values never appear on podman's command line: entries
// that are secret (EnvVar.Secret or a sensitive name) are passed as
// "--env NAME" and their values through podman's own environment, which only
// the same user can read (/proc/PID/environ is mode 0400). Nothing is written
// to disk, and values of any content (newlines, any length) pass unchanged.
// Names that would change podman's own behaviour (PATH, HOME, TMPDIR,
// CONTAINERS_*, ...) cannot be passed that way; for those a 0600 --env-file
// that is removed as soon as podman returns is used instead. A side benefit:
// podman records its own command line in the container (CreateCommand in
// inspect), which thus holds secret names only.
//
// Podman behaviours the backend adapts to (measured on 4.3.1):
//   - `podman wait` returns at once for a created container, and
//     "--condition running" misses short runs: Wait waits for the start on the
//     event stream (driver.AwaitStart), then runs `podman wait`.
//   - Podman learns of an exit by reading conmon's exit file when it next
//     looks, after its cleanup process released the container: `podman
//     wait` returns 100–250 ms after the exit. When podman's files are on
//     this machine (local, or a service on a unix socket) Wait watches that
//     file itself (internal/conmon; its directory read from the container's
//     conmon) and returns within milliseconds, racing `podman wait`, which
//     is killed then. What podman answers next agrees: its inspect reads the
//     same file; its list may not (Podman 5), and List asks the inspect of a
//     container it says runs whose exit Wait read from the file; a copy waits
//     for Podman's cleanup, which unmounts the storage a copy mounts
//     (conmon.ExitWatcher.Settle).
//   - `podman rm --force` of a missing container exits 0 and prints nothing:
//     Remove reports ErrNotFound from the empty output.
//   - exec on a stopped container exits 255 locally and 125 remotely, each
//     with an "Error: " line; 126/127 are the command's own codes.
//   - `podman logs --timestamps` prefixes every partial k8s-file record,
//     splitting long lines, and `podman logs -f` skips records under load:
//     when conmon's k8s-file log is readable on this machine, Logs reads it
//     directly (logstream.K8sFile: exact, with every line's time); otherwise
//     it runs `podman logs` without --timestamps (LogLine.Time zero).
//   - CONTAINER_HOST (or CONTAINER_CONNECTION) in the environment turns
//     podman into a remote client: ConfigFromEnv does as podman does
//     ("remote" auto: --url CONTAINER_HOST, --connection NAME); with
//     remote "false", Config.Local drops both from podman's environment.
package podmancli
