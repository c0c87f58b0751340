// Package docker implements ctrgate.ContainerRuntime on the Docker Engine
// API, through the official Go client (github.com/docker/docker/client).
//
// It speaks to any engine with a Docker-compatible API: Docker itself and
// Podman's Docker-compatible service ("podman system service"). The engine is
// chosen like the docker CLI chooses it: Config.Host, or else DOCKER_HOST
// (unix://, tcp:// with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, or ssh://), or
// else the docker CLI context (Config.Context, DOCKER_CONTEXT or the CLI's
// current context, read from $DOCKER_CONFIG/contexts with its TLS
// material), or else the default socket /var/run/docker.sock. The API version is
// negotiated unless Config.APIVersion (or DOCKER_API_VERSION) fixes it.
//
// ssh:// hosts are served without github.com/docker/cli: the runtime starts
// "ssh [-l user] [-p port] -- host docker system dial-stdio" per connection
// (what the docker CLI does), so the remote side needs a docker CLI and
// the local side an ssh client with non-interactive authentication.
//
// GPU requests: when the engine reports CDI support (API >= 1.44 with a
// non-empty CDISpecDirs in its info: Docker 25+ with CDI enabled, which is
// experimental before Docker 28.2 and the default from 28.2) the runtime
// sends CDI device requests
// (DeviceRequests{Driver: "cdi", Capabilities: [["cdi"]], DeviceIDs:
// ["nvidia.com/gpu=all"]}), as "docker run --device nvidia.com/gpu=all" does;
// otherwise it sends the classic "--gpus" request (DeviceRequests{Count: -1,
// Capabilities: [["gpu"]]} for all GPUs, DeviceIDs ["0", ...] for
// nvidia.com/gpu=N devices), which needs the NVIDIA container runtime hook.
// On Podman's compatibility API, CDI requests are sent from Podman 5.4 on;
// older Podman versions silently drop every device request, so a GPU request
// fails at Create with a *ctrgate.GPUConfigError that also matches
// ctrgate.ErrUnsupported. Either way a missing GPU setup surfaces as
// *ctrgate.GPUConfigError.
//
// # Podman's Docker-compatible API
//
// The backend detects Podman behind the API (EngineInfo.Engine "podman") and
// absorbs the differences the conformance suite finds with Podman 4.3: a
// followed log may end before its last lines when the container exits (the
// rest is read again without Follow; not possible with LogOptions.Tail), log
// timestamps have whole-second precision, a forced remove racing with the
// container's exit is retried, GPU requests are refused before Podman 5.4
// (which drops them silently), and Podman's own network and user namespace
// modes (slirp4netns, pasta, keep-id, auto) are passed through, while Docker
// rejects them with ErrUnsupported.
//
// # Other notes
//
//   - Create adds the label ImageLabel (the image reference as given), so
//     that List reports the reference even after its tag has moved; it is
//     left out of the labels the runtime returns.
//   - A bind mount whose host source does not exist is refused at Create
//     when the engine is on this machine (a unix socket), as Podman and
//     Docker's Mounts API refuse it: Podman's Docker-compatible API would
//     create the directory on the host, and so would Docker for a
//     relabelled bind (the legacy Binds syntax).
//   - List reports an exited container's exit code from the entry's status
//     text ("Exited (N) ..."): Docker's list API has no field for it.
//   - Events asks the engine for events since the moment of the call, so the
//     engine's clock must agree with the local one (same host or synced).
package docker
