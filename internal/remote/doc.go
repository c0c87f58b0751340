// Package remote holds the tests of remote engines: the engines of the two
// "hosts" that scripts/remote.sh provisions (network namespaces on a private
// subnet of this machine, each with its own sshd and Podman service; h1 with
// a dockerd on ssh and on tcp+TLS), driven by every backend over the network
// the way a user reaches a remote engine: podman-api and podman-cli over
// ssh://, docker over ssh:// and over tcp:// with TLS client certificates.
// The tests read the addresses and the client material from the environment
// that `scripts/remote.sh env` prints. The package has no code of its own.
package remote
