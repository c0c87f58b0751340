package ctrgate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretBookIsBounded(t *testing.T) {
	var b secretBook
	for i := range secretBookSize + 10 {
		b.add([]string{fmt.Sprint("v", i)}, fmt.Sprint("id", i), fmt.Sprint("name", i))
	}
	assert.Len(t, b.order, secretBookSize)
	assert.Len(t, b.by, 2*secretBookSize, "by ID and by name")
	assert.Nil(t, b.of("id0"), "the oldest are forgotten first")
	assert.Equal(t, []string{fmt.Sprint("v", secretBookSize+9)}, b.of(fmt.Sprint("name", secretBookSize+9)))

	b.add([]string{"again"}, "id5000", "name20") // a name taken again: the new container's
	assert.Equal(t, []string{"again"}, b.of("name20"))
	assert.Nil(t, b.of("id20"), "the old container known by that name is dropped whole")
	b.forget("id5000")
	assert.Nil(t, b.of("name20"))
	b.add(nil, "id-none") // nothing to remember
	assert.Nil(t, b.of("id-none"))
}
