package driver_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryImageListing(t *testing.T) {
	ctx := context.Background()
	calls := 0
	got, err := driver.RetryImageListing(ctx, func() (int, error) {
		calls++
		if calls < 3 {
			return 0, ctrgate.NewEngineError("podman-api", ctrgate.OpListImages, "", ctrgate.ErrImageNotFound, "image not known", nil, nil)
		}
		return 42, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 42, got)
	assert.Equal(t, 3, calls, "retried while an image vanished during the listing")

	calls = 0
	boom := errors.New("boom")
	_, err = driver.RetryImageListing(ctx, func() (int, error) { calls++; return 0, boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "other errors return at once")

	calls = 0
	race := errors.New(`retrieving parent of image "6a": locating item named "manifest" for image with ID "3f": file does not exist`)
	got, err = driver.RetryImageListing(ctx, func() (int, error) {
		calls++
		if calls == 1 {
			return 0, race
		}
		return 7, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 7, got, "Podman's other words for an image removed during the listing")

	calls = 0
	_, err = driver.RetryImageListing(ctx, func() (int, error) { calls++; return 0, ctrgate.ErrImageNotFound })
	assert.ErrorIs(t, err, ctrgate.ErrImageNotFound)
	assert.Equal(t, 8, calls, "bounded")
}

func TestRetryEmptyArchive(t *testing.T) {
	ctx := context.Background()
	var full bytes.Buffer
	tw := tar.NewWriter(&full)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "out.txt", Mode: 0o644, Size: 2}))
	_, err := tw.Write([]byte("hi"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	var empty bytes.Buffer
	require.NoError(t, tar.NewWriter(&empty).Close()) // end-of-archive blocks only

	for _, first := range [][]byte{nil, empty.Bytes()} {
		calls := 0
		rc, err := driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
			calls++
			if calls < 3 {
				return io.NopCloser(bytes.NewReader(first)), nil
			}
			return io.NopCloser(bytes.NewReader(full.Bytes())), nil
		})
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, full.Bytes(), got, "the stream starts at the archive's first byte")
		assert.Equal(t, 3, calls, "an empty archive (%d bytes) is asked again", len(first))
	}

	calls := 0
	rc, err := driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
		calls++
		return io.NopCloser(bytes.NewReader(empty.Bytes())), nil
	})
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, 5, calls, "bounded: the last answer is returned")

	boom := errors.New("boom")
	calls = 0
	_, err = driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { calls++; return nil, boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "another error is not retried")

	// the same cleanup race as an error (rootless Podman 4.3)
	race := errors.New(`"/data" could not be found on container c: mounting storage for container 1f2e: lstat /s/overlay/9a/merged: no such file or directory`)
	calls = 0
	rc, err = driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
		calls++
		if calls < 3 {
			return nil, race
		}
		return io.NopCloser(bytes.NewReader(full.Bytes())), nil
	})
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, 3, calls)
	calls = 0
	_, err = driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) { calls++; return nil, race })
	assert.ErrorIs(t, err, race)
	assert.Equal(t, 5, calls, "bounded")

	// the storage unmounted under the copy (Podman 4.3, root)
	unmounted := errors.New(`no such container: 1 error occurred:; * copying from container: error in copier subprocess: changing to intended-new-root directory "/s/overlay/9a/merged": chdir /s/overlay/9a/merged: no such file or directory`)
	calls = 0
	rc, err = driver.RetryEmptyArchive(ctx, func() (io.ReadCloser, error) {
		if calls++; calls < 2 {
			return nil, unmounted
		}
		return io.NopCloser(bytes.NewReader(full.Bytes())), nil
	})
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	assert.Equal(t, 2, calls)
}

func TestRetryTransientWait(t *testing.T) {
	transient := errors.New(`read /proc/4242/cgroup: no such process`)
	n := 0
	code, err := driver.RetryTransientWait(context.Background(), func() (int, error) {
		if n++; n < 3 {
			return 0, transient
		}
		return 7, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 7, code)
	assert.Equal(t, 3, n, "waited again twice")

	n = 0
	gone := ctrgate.NewEngineError("mock", ctrgate.OpWait, "c", ctrgate.ErrNotFound, "no such process group", nil, nil)
	_, err = driver.RetryTransientWait(context.Background(), func() (int, error) { n++; return 0, gone })
	assert.ErrorIs(t, err, ctrgate.ErrNotFound)
	assert.Equal(t, 1, n, "an error a sentinel explains is not waited out")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n = 0
	_, err = driver.RetryTransientWait(ctx, func() (int, error) { n++; return 0, transient })
	assert.ErrorIs(t, err, transient)
	assert.Equal(t, 1, n, "not again once ctx is done")
}
