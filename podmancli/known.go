package podmancli

import (
	"sync"
	"time"
)

// knownLimit bounds how many containers a runtime remembers.
const knownLimit = 4096

// knownState is what this runtime saw of a container it ran or started.
type knownState struct {
	id         string
	exited     bool      // its Wait returned here, and it was not started since
	autoRemove bool      // run with --rm: podman removes it on exit
	runAt      time.Time // when it was run here
}

// knownContainers remembers, by name and by ID, the containers this
// runtime started (Run, Start) and whether it saw them exit (Wait), so
// that Wait needs no inspect before `podman wait` (which returns at once
// for a container that was never started: the inspect is for that case)
// and a forced Remove of an exited container needs no kill first. It is
// bounded (knownLimit, the oldest forgotten first) and forgets a removed
// container. Knowledge may be stale only where another client acts on the
// same container; each use is then still correct, as before (a fresh
// inspect is skipped only for a container started here).
type knownContainers struct {
	mu    sync.Mutex
	by    map[string]*knownState // by name and by ID
	order []*knownState          // oldest first
	names map[*knownState][]string
}

func (k *knownContainers) started(id string, autoRemove bool, names ...string) {
	if id == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.by == nil {
		k.by = map[string]*knownState{}
		k.names = map[*knownState][]string{}
	}
	s, ok := k.by[id]
	if !ok {
		s = &knownState{id: id}
		k.by[id] = s
		k.order = append(k.order, s)
	}
	s.exited, s.autoRemove, s.runAt = false, autoRemove, time.Now()
	for _, n := range names {
		if n != "" && k.by[n] != s {
			k.by[n] = s
			k.names[s] = append(k.names[s], n)
		}
	}
	for len(k.order) > knownLimit {
		k.drop(k.order[0])
	}
}

// lookup returns what is known of name (a name or an ID).
func (k *knownContainers) lookup(name string) (knownState, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.by[name]; ok {
		return *s, true
	}
	return knownState{}, false
}

// restarted marks name as running again, if it is known.
func (k *knownContainers) restarted(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.by[name]; ok {
		s.exited = false
	}
}

func (k *knownContainers) exited(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.by[name]; ok {
		s.exited = true
	}
}

// forget drops name and every key of its container.
func (k *knownContainers) forget(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.by[name]; ok {
		k.drop(s)
	}
}

// drop removes s; k.mu is held.
func (k *knownContainers) drop(s *knownState) {
	delete(k.by, s.id)
	for _, n := range k.names[s] {
		if k.by[n] == s {
			delete(k.by, n)
		}
	}
	delete(k.names, s)
	for i, o := range k.order {
		if o == s {
			k.order = append(k.order[:i], k.order[i+1:]...)
			break
		}
	}
}
