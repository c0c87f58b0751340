package driver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabelFilters(t *testing.T) {
	assert.Equal(t, []string{"a=1", "b", "c=x=y"},
		driver.LabelFilters(map[string]string{"c": "x=y", "a": "1", "b": ""}),
		"sorted by key; an empty value filters on the key alone")
	assert.Empty(t, driver.LabelFilters(nil))
}

func TestApplyPullPolicy(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		policy  ctrgate.PullPolicy
		present bool
		pulled  bool
		wantErr error
	}{
		{ctrgate.PullNever, true, false, nil},
		{ctrgate.PullNever, false, false, ctrgate.ErrImageNotFound},
		{ctrgate.PullMissing, true, false, nil},
		{ctrgate.PullMissing, false, true, nil},
		{"", false, true, nil},
		{ctrgate.PullAlways, true, true, nil},
	} {
		pulled := false
		err := driver.ApplyPullPolicy(ctx, "test", "img", tc.policy,
			func(context.Context, string) (bool, error) { return tc.present, nil },
			func(context.Context) error { pulled = true; return nil })
		if tc.wantErr != nil {
			assert.ErrorIs(t, err, tc.wantErr, "%s present=%v", tc.policy, tc.present)
		} else {
			assert.NoError(t, err, "%s present=%v", tc.policy, tc.present)
		}
		assert.Equal(t, tc.pulled, pulled, "%s present=%v: pulled", tc.policy, tc.present)
	}
	err := driver.ApplyPullPolicy(ctx, "test", "img", ctrgate.PullMissing,
		func(context.Context, string) (bool, error) {
			return false, ctrgate.NewEngineError("test", ctrgate.OpImageExists, "img", nil, "", boom, nil)
		},
		func(context.Context) error { t.Fatal("must not pull when the check failed"); return nil })
	assert.ErrorIs(t, err, boom, "a failed check is an error, not 'absent'")
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, ctrgate.OpPullImage, ee.Op)
}

func TestFilterImages(t *testing.T) {
	imgs := driver.FilterImages([]ctrgate.Image{
		{ID: "sha256:bb", Refs: []string{"b:1", "<none>:<none>"}},
		{ID: "aa", Refs: []string{"a:2", "a@sha256:00", "a:1"}, Labels: map[string]string{"k": "v"}},
		{ID: "aa", Refs: []string{"a:1", "a:3"}, Labels: map[string]string{"k": "v"}},
	}, ctrgate.ImageFilter{})
	require.Len(t, imgs, 2)
	assert.Equal(t, "aa", imgs[0].ID)
	assert.Equal(t, []string{"a:1", "a:2", "a:3"}, imgs[0].Refs)
	assert.Equal(t, "bb", imgs[1].ID)
	assert.Equal(t, []string{"b:1"}, imgs[1].Refs)
	assert.Len(t, driver.FilterImages(imgs, ctrgate.ImageFilter{RefPrefix: "a:"}), 1)
	assert.Empty(t, driver.FilterImages(imgs, ctrgate.ImageFilter{RefPrefix: "a."}), "literal prefix")
	assert.Len(t, driver.FilterImages(imgs, ctrgate.ImageFilter{Labels: map[string]string{"k": ""}}), 1)
}

func TestEngineImageLabelFilters(t *testing.T) {
	got := driver.EngineImageLabelFilters(ctrgate.ImageFilter{Labels: map[string]string{"b": "x,y", "a": "1", "c": ""}})
	assert.Equal(t, []string{"a=1", "c"}, got, "a value with a comma is left to FilterImages")
}
