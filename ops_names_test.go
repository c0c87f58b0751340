package ctrgate_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func TestOpsAreTheMethodNames(t *testing.T) {
	rt := reflect.TypeOf((*ctrgate.ContainerRuntime)(nil)).Elem()
	var methods []string
	for i := 0; i < rt.NumMethod(); i++ {
		methods = append(methods, rt.Method(i).Name)
	}
	assert.ElementsMatch(t, methods, ctrgate.Ops(), "one Op constant per ContainerRuntime method, spelled as the method")
	for _, op := range ctrgate.Ops() {
		_, ok := rt.MethodByName(op)
		assert.True(t, ok, "%q is a ContainerRuntime method", op)
	}
}

func TestValidateLogOptions(t *testing.T) {
	assert.NoError(t, ctrgate.ValidateLogOptions(ctrgate.LogOptions{}))
	assert.NoError(t, ctrgate.ValidateLogOptions(ctrgate.LogOptions{Tail: 3, Follow: true}))
	err := ctrgate.ValidateLogOptions(ctrgate.LogOptions{Tail: -1})
	assert.ErrorIs(t, err, ctrgate.ErrInvalidSpec)
	var se *ctrgate.SpecError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "Tail", se.Field)
	assert.NotEmpty(t, se.Reason)
}
