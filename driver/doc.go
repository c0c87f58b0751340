// Package driver is for the authors of ctrgate backends, as
// database/sql/driver is for database drivers: users hold the
// ctrgate.Runtime (the contract layer, ctrgate.Enforce) and never need this
// package.
//
// A backend implements Driver (the ctrgate.ContainerRuntime method set)
// and does engine work only: the layer has already checked every argument,
// applies the default per-call timeout, returns at the caller's deadline,
// stamps the method and backend on errors and redacts secrets. What the
// engines have in common beyond that is here, so that every backend does
// it the same way:
//
//   - errors: ctrgate.NewEngineError and ctrgate.NewGPUConfigError build the
//     typed errors; PullFailureKind, IsGPUConfigMessage and
//     IsBrokenConnection classify an engine's failure; WithOp re-labels
//     the error of a helper call;
//   - start and exit: AwaitStart (a Wait or followed Logs on a container
//     not started yet), RetryTransientWait (Podman's transient wait
//     failure);
//   - events: ResumeEvents (a stream that resumes across the engine's own
//     interruptions), NormaliseEventType;
//   - images: ApplyPullPolicy, FilterImages, EngineImageLabelFilters,
//     RetryImageListing; LabelFilters for container label filters;
//   - archives: RetryEmptyArchive.
//
// The streaming building blocks are packages of their own: pipe (a
// bounded, lossless producer/consumer queue) and logstream (a LogStream fed
// by a producer, completion of followed logs, Podman's k8s-file log
// reader). The in-memory fake (package fake) is a driver too, and the
// conformance suite (package conformance) is how a new backend shows it
// keeps the contract.
package driver

import "github.com/ctrgate/ctrgate"

// Driver is what a backend implements; ctrgate.Enforce puts the contract
// layer over it.
type Driver = ctrgate.Driver
