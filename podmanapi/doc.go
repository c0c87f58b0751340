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
// API 4.0.0; the package is tested against a Podman 4.3.1 service. Where a
// 4.x server behaves differently from a 5.x one the package adapts (see
// Runtime.Wait and NetworkPasta in Create).
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
