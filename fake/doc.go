// Package fake is an in-memory ctrgate.ContainerRuntime for unit tests, in
// the spirit of net/http/httptest and Kubernetes' CRI FakeRuntimeService.
//
// A fake Runtime keeps images, containers, volumes, logs and events in
// memory and runs container "processes" as Go functions (Programs) in
// goroutines. It keeps the ctrgate contract (it passes the conformance
// suite), and adds test controls: a call log (Calls, CallsTo, ResetCalls),
// error injection per method (InjectError), artificial latency
// (SetLatency), log injection (EmitLog), forced exits (ExitContainer) and
// direct access to container files (ReadFile, WriteFile).
//
// A test sets up only what it needs: images (AddImage, ImportImage) and the
// programs their containers run (RegisterProgram, or ImageConfig.Program).
// See the examples. Importing the package also registers it with package
// backend as "fake" (see NewFromOptions); auto-detection never picks it.
//
// # Images and programs
//
// The fake has no registry. An image exists once it is added with AddImage
// or imported with ImportImage; any other reference fails with an error
// wrapping ctrgate.ErrImageNotFound, whatever the pull policy. Images that
// exist count as pullable (PullAlways succeeds for them).
//
// Executables are Go functions registered by absolute path with
// RegisterProgram. A container's argv (spec Entrypoint+Command, each falling
// back to the image's) is resolved by argv[0]: an absolute path must be
// registered; a bare name is searched in the PATH directories of the
// container's environment. When nothing is registered under that name the
// image's own Program (ImageConfig.Program) runs, with the same argv. When
// there is none either, the executable is missing: Start fails with a
// *ctrgate.EngineError (as podman does) and the container ends exited with
// code 127; in Exec the result has exit code 127 and the message on stderr.
// A registered program need not exist as a file in the container.
//
// # Processes
//
// A Program receives a *Process, which implements the
// conformance/testprog System interface: arguments, environment, working
// directory, host name, uid/gid (from spec.User, numeric or looked up in the
// container's /etc/passwd and /etc/group), stdin (empty for the main
// process), stdout/stderr (the container log for the main process, buffers
// for Exec), signals, network listeners and the container's file system.
//
// The program's return value is its exit code. Catchable signals sent with
// Kill or Stop arrive on Process.Signals; the program decides what to do
// (the conformance test program exits 128+signo on SIGTERM). SIGKILL, a
// Stop timeout, Remove with Force, ExitContainer and Close end the process
// from outside: Process.Done is closed, the exit code is 137 (or the one
// given to ExitContainer) and whatever the program returns afterwards is
// ignored. A program must return promptly once Done is closed; one that
// ignores Done leaks its goroutine (that is a bug in the program, and Close
// reports it).
//
// # File systems, volumes and ports
//
// Every container has an in-memory root file system, copied from its image
// at Create. Bind mounts read and write real files under the host Source
// (ReadOnly is respected); tmpfs mounts are in-memory and emptied when the
// container stops; named volumes are in-memory and shared by name between the
// containers of one Runtime (anonymous volumes belong to their container).
// spec.ReadOnlyRootfs makes writes to the root fail with EROFS (CopyTo still
// writes, as engines do).
//
// For every published TCP port the fake listens on a real host port (on
// HostIP, or 127.0.0.1 when HostIP is empty; HostPort 0 picks a free port)
// at Start, and proxies each connection to the in-memory listener the
// program opened with Process.Listen("tcp", ":PORT") for that container
// port. A connection to a port nobody listens on is closed at once. UDP
// mappings are recorded but not served. Listeners and proxies end when the
// container stops.
//
// # Not modelled
//
// Networks, user namespaces, capabilities, resource limits, ulimits,
// SELinux relabelling and OCI runtimes are accepted (after validation) and
// ignored. There is no pause/unpause.
//
// # Where the fake is simpler than an engine
//
// What a consumer could notice, so that a test on the fake does not promise
// more than a real engine gives:
//
//   - Registry: by default there is none. PullMissing and PullAlways of an
//     image the fake does not hold fail with ErrImageNotFound, as a pull
//     from a registry without the reference does. Give it registries
//     (NewRegistry, Registry.Push, WithRegistry) to pull as an engine does:
//     the conformance suite's Images group checks that model against a real
//     registry. A registry's images carry the files pushed with them, not
//     the layers of a real image.
//   - OOMKilled is never set: memory limits are not enforced, so no
//     container is killed for memory.
//   - Init (spec.Init) changes nothing: the program itself is PID 1 and
//     receives every signal; with an engine's init (catatonit, tini) a
//     program that ignores SIGTERM as PID 1 would still be stopped the same
//     way, but zombie reaping is not modelled.
//   - RemoveOptions.Volumes removes a container's anonymous volumes; named
//     volumes live as long as the Runtime, as on the engines.
//   - RemoveImage with force of an image in use removes the tag and keeps
//     the containers (as Docker; Podman removes them too).
//   - Log line times come from this process's clock with nanoseconds; some
//     engines round them (Podman's Docker-compatible API to seconds).
package fake
