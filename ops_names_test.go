package ctrgate_test

import (
	"errors"
	"fmt"
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

func TestWithOp(t *testing.T) {
	orig := ctrgate.NewEngineError("b", ctrgate.OpInspect, "web", ctrgate.ErrNotFound, "no such container", nil, nil)
	got := ctrgate.WithOp(orig, ctrgate.OpLogs)
	var ee *ctrgate.EngineError
	require.ErrorAs(t, got, &ee)
	assert.Equal(t, ctrgate.OpLogs, ee.Op)
	assert.Equal(t, "web", ee.Target)
	assert.ErrorIs(t, got, ctrgate.ErrNotFound)
	assert.Equal(t, ctrgate.OpInspect, orig.Op, "the original is not changed")

	assert.NoError(t, ctrgate.WithOp(nil, ctrgate.OpLogs))
	plain := errors.New("x")
	assert.Same(t, plain, ctrgate.WithOp(plain, ctrgate.OpLogs))
	g := ctrgate.NewGPUConfigError("b", "cdi", nil, nil)
	assert.Same(t, g, ctrgate.WithOp(g, ctrgate.OpStart))
	wrapped := fmt.Errorf("ctx: %w", orig)
	assert.Same(t, wrapped, ctrgate.WithOp(wrapped, ctrgate.OpLogs), "only an outermost *EngineError is renamed")
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
