// Package crossbackend holds the tests that drive two backends against one
// engine and compare what each sees (a container made through the podman
// binary, inspected through the Podman service, and back). They live here,
// not in either backend, so that no backend's tests import another
// backend. The package has no code of its own.
package crossbackend
