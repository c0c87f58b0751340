package conformance

import (
	"archive/tar"
	"bytes"
	"errors"
	"github.com/ctrgate/ctrgate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"io"
	"path"
	"strings"
	"testing"
	"time"
)

// tarOf packs files (path -> content) into a tar stream.
func tarOf(t testing.TB, files map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range order {
		data := files[n]
		if strings.HasSuffix(n, "/") {
			require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755, ModTime: time.Now()}))
			continue
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now()}))
		_, err := tw.Write([]byte(data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// untar reads a tar stream into path -> content (regular files only).
func untar(t testing.TB, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimPrefix(path.Clean(h.Name), "/")] = string(b)
	}
}

func copyGroup() group {
	return group{name: "Copy", tests: []suiteTest{
		{name: "CopyToCreated", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "copy-to")
			s.create(t, ctx, s.spec(name, "cat", "/data/hello.txt", ";", "cat", "/data/sub/inner.txt"))
			archive := tarOf(t, map[string]string{"hello.txt": "hello from the host\n", "sub/inner.txt": "inner\n"},
				"hello.txt", "sub/", "sub/inner.txt")
			require.NoError(t, s.rt.CopyTo(ctx, name, "/data", bytes.NewReader(archive)))
			require.NoError(t, s.rt.Start(ctx, name))
			assert.Equal(t, 0, s.wait(t, ctx, name))
			assert.Equal(t, []string{"hello from the host", "inner"},
				texts(s.logs(t, ctx, name, ctrgate.LogOptions{}), ctrgate.Stdout))
		}},
		{name: "CopyFrom", parallel: true, fn: func(t *testing.T, s *suite) {
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			name := s.name(t, "copy-from")
			payload := "payload-" + randHex(4)
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(name, "write", "/data/out.txt", payload)))

			rc, err := s.rt.CopyFrom(ctx, name, "/data/out.txt")
			require.NoError(t, err, "CopyFrom works on an exited container")
			files := untar(t, rc)
			require.NoError(t, rc.Close())
			assert.Equal(t, map[string]string{"out.txt": payload}, files, "a file is archived under its base name")

			rc, err = s.rt.CopyFrom(ctx, name, "/data")
			require.NoError(t, err)
			files = untar(t, rc)
			require.NoError(t, rc.Close())
			assert.Equal(t, map[string]string{"data/out.txt": payload}, files, "a directory is archived under its base name")

			_, err = s.rt.CopyFrom(ctx, name, "/data/no-such-file")
			assert.ErrorIs(t, err, ctrgate.ErrNotFound, "a missing path")
		}},
		{name: "EveryState", parallel: true, fn: func(t *testing.T, s *suite) {
			// CopyTo and CopyFrom work on created, running and exited
			// containers alike.
			if !s.need(t, CapCopy) {
				return
			}
			ctx := s.ctx(t)
			created, running, exited := s.name(t, "copy-c"), s.name(t, "copy-r"), s.name(t, "copy-x")
			s.create(t, ctx, s.spec(created, "exit", "0"))
			s.run(t, ctx, s.spec(running, sleeper()...))
			s.waitReady(t, ctx, running, "ready")
			assert.Equal(t, 0, s.runToExit(t, ctx, s.spec(exited, "exit", "0")))
			for _, n := range []string{created, running, exited} {
				payload := "state-payload-" + randHex(4)
				archive := tarOf(t, map[string]string{"f.txt": payload}, "f.txt")
				if !assert.NoError(t, s.rt.CopyTo(ctx, n, "/tmp", bytes.NewReader(archive)), "CopyTo %s", n) {
					continue
				}
				rc, err := s.rt.CopyFrom(ctx, n, "/tmp/f.txt")
				if !assert.NoError(t, err, "CopyFrom %s", n) {
					continue
				}
				files := untar(t, rc)
				require.NoError(t, rc.Close())
				assert.Equal(t, map[string]string{"f.txt": payload}, files, "round trip through %s", n)
			}
		}},
	}}
}
