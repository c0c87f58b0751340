package podmancli

import (
	"testing"
	"time"

	"github.com/ctrgate/ctrgate/driver"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func TestParseImages431(t *testing.T) {
	raw, err := parseImages(fixture(t, "podman-4.3.1", "images.json"))
	require.NoError(t, err)
	require.Len(t, raw, 4, "podman 4.3 lists a twice-tagged image twice")
	imgs := driver.FilterImages(raw, ctrgate.ImageFilter{})
	require.Len(t, imgs, 3, "one entry per ID")
	byID := map[string]ctrgate.Image{}
	for _, im := range imgs {
		byID[im.ID[:12]] = im
	}
	tagged := byID["55e641767b45"]
	assert.Equal(t, []string{"localhost/ctrgate-fx/images:v1", "localhost/ctrgate-fx/images:v2"}, tagged.Refs)
	assert.Equal(t, map[string]string{"io.ctrgate.fixture": "1", "tier": "fx"}, tagged.Labels)
	assert.Equal(t, int64(11378), tagged.Size)
	assert.Equal(t, time.Date(2026, 12, 2, 13, 22, 38, 0, time.UTC), tagged.Created)
	assert.Equal(t, []string{"localhost/ctrgate-fx/dangling:v1"}, byID["f5302c3f8661"].Refs)
	assert.Empty(t, byID["15b79ca6c159"].Refs, "an untagged image has no refs")

	got := driver.FilterImages(raw, ctrgate.ImageFilter{Labels: map[string]string{"tier": "fx"}})
	require.Len(t, got, 1)
	assert.Equal(t, tagged.ID, got[0].ID)
}

func TestParseImages542(t *testing.T) {
	raw, err := parseImages(fixture(t, "podman-5.4.2", "images.json"))
	require.NoError(t, err)
	imgs := driver.FilterImages(raw, ctrgate.ImageFilter{})
	require.Len(t, imgs, 1)
	assert.Equal(t, []string{"localhost/hello:1"}, imgs[0].Refs)
	assert.Regexp(t, `^4abc12323b66[0-9a-f]{52}$`, imgs[0].ID)
	assert.Equal(t, int64(2427999), imgs[0].Size)
	assert.Equal(t, time.Unix(1796218141, 0).UTC(), imgs[0].Created)
}

func TestParseImagesEmpty(t *testing.T) {
	imgs, err := parseImages([]byte("[]\n"))
	require.NoError(t, err)
	assert.Empty(t, imgs)
	_, err = parseImages(nil)
	assert.Error(t, err, "no output is a failed query, never 'no images'")
	_, err = parseImages([]byte("Error: something"))
	assert.Error(t, err)
}
