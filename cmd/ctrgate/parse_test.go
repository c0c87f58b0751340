package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

func TestParsePort(t *testing.T) {
	cases := map[string]ctrgate.PortMapping{
		"80":                {ContainerPort: 80},
		"8080:80":           {HostPort: 8080, ContainerPort: 80},
		"8080:80/udp":       {HostPort: 8080, ContainerPort: 80, Protocol: "udp"},
		"127.0.0.1:8080:80": {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
		"127.0.0.1::80/tcp": {HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "tcp"},
		"[::1]:8080:80":     {HostIP: "::1", HostPort: 8080, ContainerPort: 80},
		"[::1]::80/udp":     {HostIP: "::1", ContainerPort: 80, Protocol: "udp"},
		"0.0.0.0:1:2":       {HostIP: "0.0.0.0", HostPort: 1, ContainerPort: 2},
	}
	for in, want := range cases {
		got, err := parsePort(in)
		require.NoError(t, err, in)
		assert.Equal(t, []ctrgate.PortMapping{want}, got, in)
	}
	got, err := parsePort("127.0.0.1:8000-8001:80-81/udp")
	require.NoError(t, err)
	assert.Equal(t, []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 8000, ContainerPort: 80, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 8001, ContainerPort: 81, Protocol: "udp"}}, got, "ranges, as docker reads them")
	for _, bad := range []string{"", "a:80", "80:b", "1:2:3:4", "[::1:80", "[::1]80", "80/sctpx", "70000"} {
		_, err := parsePort(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseVolumeTmpfs(t *testing.T) {
	m, err := parseVolume("/src:/dst:ro")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.Mount{Type: ctrgate.MountBind, Source: "/src", Target: "/dst", ReadOnly: true}, m)
	m, err = parseVolume("data:/var/lib/data:Z")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.Mount{Type: ctrgate.MountVolume, Source: "data", Target: "/var/lib/data", Relabel: ctrgate.RelabelPrivate}, m)
	m, err = parseVolume("/anon")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.Mount{Type: ctrgate.MountVolume, Target: "/anon"}, m)
	for _, bad := range []string{"/a:/b:rx", ":/b", "a:b:c:d"} {
		_, err := parseVolume(bad)
		assert.Error(t, err, bad)
	}
	m, err = parseTmpfs("/run:size=64m")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.Mount{Type: ctrgate.MountTmpfs, Target: "/run", Size: 64 << 20}, m)
	_, err = parseTmpfs("/run:mode=1777")
	assert.Error(t, err)
}

func TestParseGPUsEnvCommandSince(t *testing.T) {
	g, err := parseGPUs("all")
	require.NoError(t, err)
	assert.Equal(t, ctrgate.GPURequest{All: true}, g)
	g, err = parseGPUs("device=0,nvidia.com/gpu=1")
	require.NoError(t, err)
	assert.Equal(t, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}, g.Devices)
	_, err = parseGPUs("")
	assert.Error(t, err)
	_, err = parseGPUs(",,,")
	assert.ErrorContains(t, err, "names no device", "a list of nothing is not 'no GPU'")

	env := parseEnv([]string{"A=1", "B", "C", "D="}, true, func(k string) string {
		if k == "B" {
			return "fromhost"
		}
		return ""
	})
	assert.Equal(t, []ctrgate.EnvVar{{Name: "A", Value: "1", Secret: true}, {Name: "B", Value: "fromhost", Secret: true},
		{Name: "D", Value: "", Secret: true}}, env)

	cmd, err := parseCommandLine(`["/bin/sh","-c","echo hi"]`)
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh", "-c", "echo hi"}, cmd)
	cmd, err = parseCommandLine("/testprog")
	require.NoError(t, err)
	assert.Equal(t, []string{"/testprog"}, cmd)
	_, err = parseCommandLine(`["unterminated`)
	assert.Error(t, err)

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st, err := parseSince("10m", now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(-10*time.Minute), st)
	st, err = parseSince("2026-01-01T11:00:00Z", now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(-time.Hour), st)
	st, err = parseSince("1767268800", now)
	require.NoError(t, err)
	assert.True(t, now.Equal(st), st)
}

func TestRedactWriterSplitWrites(t *testing.T) {
	var out bytes.Buffer
	sec := &secretSet{}
	sec.add(`pa"ss-word`)
	w := newRedactWriter(&out, sec)
	_, _ = w.Write([]byte("a pa\"ss"))
	_, _ = w.Write([]byte("-word b\n{\"x\":\"pa\\\"ss-word\"}\ntail pa\"ss-word"))
	require.NoError(t, w.Flush())
	assert.Equal(t, "a [REDACTED] b\n{\"x\":\"[REDACTED]\"}\ntail [REDACTED]", out.String())
}

func TestByteProgress(t *testing.T) {
	c := &countingReader{r: strings.NewReader(strings.Repeat("x", 1500))}
	label := byteProgress("importing testimage", c, 3000)
	assert.Equal(t, "importing testimage 0B/3kB", label())
	_, err := io.Copy(io.Discard, c)
	require.NoError(t, err)
	assert.Equal(t, "importing testimage 1.5kB/3kB", label())
	assert.Equal(t, "pulling 1.5kB", byteProgress("pulling", c, 0)())

	// The spinner draws the label on the terminal and clears its line.
	var buf syncBuffer
	stop := startSpinner(&buf, label, time.Now())
	stop(true)
	assert.Contains(t, buf.String(), "importing testimage 1.5kB/3kB")
	assert.True(t, strings.HasSuffix(buf.String(), "\r\033[K"))
}

// syncBuffer is a bytes.Buffer safe for the spinner's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
