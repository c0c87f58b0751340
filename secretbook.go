package ctrgate

import (
	"errors"
	"slices"
	"sync"

	"github.com/ctrgate/ctrgate/redact"
)

// secretBookSize bounds how many containers' secrets a layer remembers
// (the oldest are forgotten first): containers removed behind its back,
// AutoRemove ones for instance, are never forgotten otherwise.
const secretBookSize = 4096

// secretBook remembers the secret values of the containers a layer
// created, by name and by ID, to redact them from later errors.
type secretBook struct {
	mu    sync.Mutex
	by    map[string]*secretEntry
	order []*secretEntry // oldest first
}

type secretEntry struct {
	keys   []string // the container's ID and name
	values []string
}

// add remembers values for the container known by keys.
func (b *secretBook) add(values []string, keys ...string) {
	if len(values) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.by == nil {
		b.by = map[string]*secretEntry{}
	}
	e := &secretEntry{values: values}
	for _, k := range keys {
		if k != "" {
			b.drop(b.by[k])
			e.keys = append(e.keys, k)
			b.by[k] = e
		}
	}
	b.order = append(b.order, e)
	for len(b.order) > secretBookSize {
		b.drop(b.order[0])
	}
}

// drop forgets e (nil: nothing). b.mu is held.
func (b *secretBook) drop(e *secretEntry) {
	if e == nil {
		return
	}
	for _, k := range e.keys {
		if b.by[k] == e {
			delete(b.by, k)
		}
	}
	for i, o := range b.order {
		if o == e {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}

// forget forgets the container known by key (its name or ID).
func (b *secretBook) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drop(b.by[key])
}

// of returns the secret values of the container known by key.
func (b *secretBook) of(key string) []string {
	if key == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.by[key]; e != nil {
		return e.values
	}
	return nil
}

// redactState redacts c.State.Error with the secrets of c.
func (b *secretBook) redactState(c *Container) {
	if c.State.Error == "" {
		return
	}
	c.State.Error = redact.Text(c.State.Error, slices.Concat(b.of(c.ID), b.of(c.Name)))
}

// redactError returns err with secrets (and what package redact masks on
// its own) redacted from its text, its type and identity kept for
// errors.Is and errors.As: the package's error types are copied with
// redacted fields, any other error is wrapped.
func redactError(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	var (
		ee *EngineError
		se *SpecError
		ge *GPUConfigError
	)
	switch {
	case errors.As(err, &ee) && ee == err:
		c := *ee
		c.Message = redact.Text(c.Message, secrets)
		c.Err = redactErr(c.Err, secrets)
		return &c
	case errors.As(err, &se) && se == err:
		c := *se
		c.Reason = redact.Text(c.Reason, secrets)
		return &c
	case errors.As(err, &ge) && ge == err:
		c := *ge
		c.Message = redact.Text(c.Message, secrets)
		c.Err = redactErr(c.Err, secrets)
		return &c
	}
	return redactErr(err, secrets)
}
