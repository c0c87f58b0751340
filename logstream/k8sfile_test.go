package logstream_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/logstream"
)

func readLines(t *testing.T, s ctrgate.LogStream) []ctrgate.LogLine {
	t.Helper()
	defer s.Close()
	var out []ctrgate.LogLine
	for {
		l, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, l)
	}
}

const k8sLog = `2026-12-02T13:40:07.406658352+00:00 stdout F first
2026-12-02T13:40:07.500000000+00:00 stderr F oops
2026-12-02T13:40:08.000000000+00:00 stdout P lo
2026-12-02T13:40:08.100000000+00:00 stdout F ng
2026-12-02T13:40:09.406658352+00:00 stdout P last
`

func TestK8sFilePlain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	require.NoError(t, os.WriteFile(path, []byte(k8sLog), 0o600))
	ctx := context.Background()
	s, err := logstream.K8sFile(ctx, "test", "c", path, ctrgate.LogOptions{}, nil, nil)
	require.NoError(t, err)
	lines := readLines(t, s)
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Stream.String()+":"+l.Text)
		assert.False(t, l.Partial)
		assert.False(t, l.Time.IsZero())
	}
	assert.Equal(t, []string{"stdout:first", "stderr:oops", "stdout:long", "stdout:last"}, texts)
	assert.Equal(t, time.Date(2026, 12, 2, 13, 40, 8, 0, time.UTC), lines[2].Time.UTC(), "a line's time is its first record's")

	s, err = logstream.K8sFile(ctx, "test", "c", path, ctrgate.LogOptions{Tail: 2}, nil, nil)
	require.NoError(t, err)
	lines = readLines(t, s)
	require.Len(t, lines, 2)
	assert.Equal(t, "long", lines[0].Text)
	assert.Equal(t, "last", lines[1].Text)

	s, err = logstream.K8sFile(ctx, "test", "c", path, ctrgate.LogOptions{Since: time.Date(2026, 12, 2, 13, 40, 8, 0, time.UTC)}, nil, nil)
	require.NoError(t, err)
	lines = readLines(t, s)
	require.Len(t, lines, 2)
	assert.Equal(t, "long", lines[0].Text)
}

func TestK8sFileFollowPartial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr.log")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("2026-12-02T13:40:07.406658352+00:00 stdout F first\n2026-12-02T13:40:07.406658352+00:00 stdout P READY\n")
	require.NoError(t, err)
	exit := make(chan struct{})
	exited := func(ctx context.Context) error {
		select {
		case <-exit:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s, err := logstream.K8sFile(context.Background(), "test", "c", path, ctrgate.LogOptions{Follow: true}, exited, nil)
	require.NoError(t, err)
	defer s.Close()
	l, err := s.Next()
	require.NoError(t, err)
	assert.Equal(t, ctrgate.LogLine{Stream: ctrgate.Stdout, Text: "first", Time: l.Time}, l)
	l, err = s.Next()
	require.NoError(t, err)
	assert.Equal(t, "READY", l.Text)
	assert.True(t, l.Partial, "unterminated text is delivered as partial while the container runs")
	_, err = f.WriteString("2026-12-02T13:40:08.406658352+00:00 stdout F  go\n")
	require.NoError(t, err)
	l, err = s.Next()
	require.NoError(t, err)
	assert.Equal(t, " go", l.Text)
	assert.False(t, l.Partial)
	close(exit)
	_, err = s.Next()
	assert.ErrorIs(t, err, io.EOF)
}

func TestLocalLogFile(t *testing.T) {
	LocalLogFile, EnvEngineRoot := logstream.LocalLogFile, logstream.EnvEngineRoot
	root := t.TempDir()
	id := "0123456789abcdef"
	inRoot := "/var/lib/containers/storage/overlay-containers/" + id + "/userdata/ctr.log"
	require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(inRoot)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, inRoot), nil, 0o644))
	direct := filepath.Join(t.TempDir(), id+".log")
	require.NoError(t, os.WriteFile(direct, nil, 0o644))

	t.Setenv(EnvEngineRoot, "")
	assert.Equal(t, direct, LocalLogFile(direct, id), "a path of this machine")
	assert.Equal(t, "", LocalLogFile(inRoot, id), "the engine's path is not here")
	assert.Equal(t, "", LocalLogFile(direct, "other"), "a path that does not name the container")
	t.Setenv(EnvEngineRoot, root)
	assert.Equal(t, filepath.Join(root, inRoot), LocalLogFile(inRoot, id), "below the engine's root")
	assert.Equal(t, direct, LocalLogFile(direct, id), "as given first")
}
