// Package podmanapi implements ctrgate.ContainerRuntime on Podman's REST API
// (libpod endpoints) through the official Go bindings,
// github.com/containers/podman/v5/pkg/bindings.
//
// # Build tags
//
// The bindings pull in containers/image and containers/storage. Every
// program, test or vet run that imports this package must be built with
//
//	-tags containers_image_openpgp,exclude_graphdriver_btrfs
//
// otherwise the build fails on missing gpgme and btrfs C headers. The tags
// are harmless for every other package.
//
// # Engines
//
// The bindings speak the libpod API of Podman 5 and accept servers down to
// API 4.0.0; the package is tested against a Podman 4.3.1 service. What a
// 4.x service does differently, and how the package copes:
//
//   - A wait on a created, never started container is answered at once
//     with 0 (created counts as stopped), and the "running" condition polls
//     and misses short runs: Wait waits for the start on the event stream
//     (driver.AwaitStart), then waits for its exit.
//   - The service learns of an exit by reading conmon's exit file when it
//     next looks, after its cleanup process released the container: its
//     wait answers 100–250 ms after the exit. For a service on this host
//     (unix socket) Wait watches that file itself (internal/conmon; its
//     directory read from the container's conmon) and returns within
//     milliseconds, abandoning the service's wait. What the service answers
//     next agrees: its inspect reads the same file; its list may not
//     (Podman 5), and List asks the inspect of a container it says runs
//     whose exit Wait read from the file; a copy waits for Podman's cleanup,
//     which unmounts the storage a copy mounts (conmon.ExitWatcher.Settle).
//   - Network mode pasta exists from 4.4 on: Create fails with
//     ctrgate.ErrUnsupported before any engine call on older services.
//   - Exec sessions cannot be removed before 4.8 (no endpoint); the
//     service drops them when the container stops.
//   - "podman info" lacks the rootless network command before 5.0:
//     Info reports slirp4netns for a rootless 4.x service.
//   - A followed log of a container that was never started ends at once:
//     Logs with Follow waits for the start first, so WaitReady called
//     between Create and Start still sees the container's output.
//   - Log timestamps have whole-second precision (LogLine.Time).
//   - Neither 4.x nor 5.x reports CDI devices: for a service on this host
//     (unix socket) Info reads the CDI specifications itself.
//
// # Bindings pitfalls handled here
//
//   - The bindings try a request that failed three times, sleeping 100,
//     200 and 300 ms whatever its context says: the connection's transport
//     answers a request whose context ended (499) or whose service could
//     not be dialled (503) instead, so that a cancelled call returns at once.
//   - containers.ExecStartAndAttach replaces the transport of the
//     connection it is given and reads a hijacked socket without looking at
//     the context: Exec gives it a private copy of the connection and closes
//     its sockets when the context ends.
//   - containers.Logs and system.Events block while sending on their
//     channels: both are drained until the request has ended.
//   - images.Exists answers false on any failure, and CopyFromArchive
//     reduces errors to the HTTP status: those endpoints are called
//     directly, so that a failed query is an error with its sentinel.
//   - Every request is retried by the bindings up to three times with
//     100-300 ms pauses; a cancelled call can therefore take up to 0.6 s
//     longer to return.
//
// # Finding the service
//
// New connects to Config.URI, or when it is empty to the first of:
// CONTAINER_HOST; the connection named by CONTAINER_CONNECTION in Podman's
// connection configuration (podman-connections.json and containers.conf
// [engine.service_destinations]); CTRGATE_PODMAN_SOCKET; Podman's default
// connection, if one is configured; the rootful socket
// /run/podman/podman.sock; the rootless socket
// $XDG_RUNTIME_DIR/podman/podman.sock. A missing or dead service fails
// quickly with ctrgate.ErrEngineUnavailable.
package podmanapi
