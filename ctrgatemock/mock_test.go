package ctrgatemock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/ctrgatemock"
)

// The mock satisfies the interface.
var _ ctrgate.ContainerRuntime = (*ctrgatemock.MockContainerRuntime)(nil)

func TestMockIsRunning(t *testing.T) {
	ctrl := gomock.NewController(t)
	rt := ctrgatemock.NewMockContainerRuntime(ctrl)
	ctx := context.Background()

	rt.EXPECT().Inspect(gomock.Any(), "web").Return(&ctrgate.Container{
		Name: "web", State: ctrgate.ContainerState{Status: ctrgate.StateRunning},
	}, nil).Times(1)

	running, err := ctrgate.IsRunning(ctx, rt, "web")
	require.NoError(t, err)
	assert.True(t, running)
}

func TestMockRunRemovesAfterFailedStart(t *testing.T) {
	ctrl := gomock.NewController(t)
	rt := ctrgatemock.NewMockContainerRuntime(ctrl)
	ctx := context.Background()
	spec := ctrgate.ContainerSpec{Name: "job", Image: "img"}
	startErr := ctrgate.NewEngineError("mock", ctrgate.OpStart, "job", nil, "boom", nil, nil)

	gomock.InOrder(
		rt.EXPECT().Create(gomock.Any(), spec).Return("id-1", nil),
		rt.EXPECT().Start(gomock.Any(), "id-1").Return(startErr),
		rt.EXPECT().Remove(gomock.Any(), "id-1", ctrgate.RemoveOptions{Force: true, Volumes: true}).Return(nil),
	)

	id, err := ctrgate.Run(ctx, rt, spec)
	assert.Empty(t, id)
	require.Error(t, err)
	var ee *ctrgate.EngineError
	require.True(t, errors.As(err, &ee))
	assert.Equal(t, ctrgate.OpStart, ee.Op)
}
