package podmancli

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestKnownContainers(t *testing.T) {
	var k knownContainers
	_, ok := k.lookup("web")
	assert.False(t, ok, "nothing is known at first")

	k.started("id1", false, "web")
	for _, key := range []string{"web", "id1"} {
		s, ok := k.lookup(key)
		assert.True(t, ok, key)
		assert.Equal(t, "id1", s.id, key)
		assert.False(t, s.exited || s.autoRemove, key)
		assert.WithinDuration(t, time.Now(), s.runAt, time.Minute, key)
	}
	k.exited("web")
	s, _ := k.lookup("id1")
	assert.True(t, s.exited, "an exit seen by name is the container's")
	k.restarted("id1")
	s, _ = k.lookup("web")
	assert.False(t, s.exited, "started again")

	k.started("id2", true, "once")
	s, _ = k.lookup("once")
	assert.True(t, s.autoRemove, "run to be removed on exit")
	k.started("id3", false, "once")
	s, _ = k.lookup("once")
	assert.Equal(t, knownState{id: "id3", runAt: s.runAt}, s, "the name is another container's now")

	k.forget("id1")
	_, ok = k.lookup("web")
	assert.False(t, ok, "forgotten by ID, forgotten by name")

	k.started("", false, "nameless")
	_, ok = k.lookup("nameless")
	assert.False(t, ok, "no ID, nothing remembered")

	// bounded: the oldest are forgotten first
	for i := range knownLimit + 10 {
		k.started("id-"+strconv.Itoa(i), false, "c-"+strconv.Itoa(i))
	}
	_, ok = k.lookup("c-0")
	assert.False(t, ok)
	_, ok = k.lookup("c-9")
	assert.False(t, ok)
	_, ok = k.lookup("c-10")
	assert.True(t, ok)
	assert.Len(t, k.order, knownLimit)
	assert.Len(t, k.by, 2*knownLimit)
}
