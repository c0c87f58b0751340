package conformance

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImageTarLayout(t *testing.T) {
	data := TestImageTar(t)
	type entry struct {
		typ  byte
		mode int64
		uid  int
		body string
	}
	got := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		got[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, body: string(b)}
	}
	dirs := map[string]int64{"etc/": 0o755, "tmp/": 0o1777, "data/": 0o777, "root/": 0o700, "proc/": 0o555, "sys/": 0o555, "dev/": 0o755}
	for name, mode := range dirs {
		e, ok := got[name]
		if assert.True(t, ok, name) {
			assert.Equal(t, byte(tar.TypeDir), e.typ, name)
			assert.Equal(t, mode, e.mode, "mode of %s", name)
		}
	}
	prog, ok := got["testprog"]
	require.True(t, ok, "/testprog")
	assert.Equal(t, byte(tar.TypeReg), prog.typ)
	assert.Equal(t, int64(0o755), prog.mode)
	assert.Equal(t, 0, prog.uid)
	assert.True(t, strings.HasPrefix(prog.body, "\x7fELF"), "a Linux executable")
	assert.Equal(t, string(TestProgBinary(t)), prog.body)

	assert.Contains(t, got["etc/passwd"].body, "root:x:0:0:")
	assert.Contains(t, got["etc/passwd"].body, "\nctrgate:x:1000:1000:")
	assert.Contains(t, got["etc/group"].body, "\nctrgate:x:1000:")
	assert.Equal(t, TestProgPath, "/testprog")

	// Built once: the same bytes every time.
	assert.Same(t, &data[0], &TestImageTar(t)[0])
}

// TestProgBinaryRuns runs the static test program on the host (where it
// can: a Linux host of the same architecture).
func TestProgBinaryRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the test program is a Linux binary; this host runs " + runtime.GOOS)
	}
	bin := filepath.Join(t.TempDir(), "testprog")
	require.NoError(t, os.WriteFile(bin, TestProgBinary(t), 0o755))
	cmd := exec.Command(bin, "echo", "a", ";", "echo-err", "b", ";", "getenv", "CTG_X", ";", "exit", "3")
	cmd.Env = []string{"CTG_X=from-env"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, ee.ExitCode())
	assert.Equal(t, "a\nfrom-env\n", stdout.String())
	assert.Equal(t, "b\n", stderr.String())

	// Signals end it with 128+signo, even while sleeping.
	cmd = exec.Command(bin, "marker", "ready", "0s", ";", "sleep", "60s")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line := make([]byte, len("ready\n"))
	_, err = io.ReadFull(out, line)
	require.NoError(t, err)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 130, ee.ExitCode())
}

func TestGroupNamesStable(t *testing.T) {
	assert.Equal(t, []string{"Engine", "Lifecycle", "StatesListing", "Wait", "Logs", "Readiness", "Exec", "Copy",
		"Events", "Images", "Errors", "SpecValidation", "Context", "Config", "Ports", "Stop", "Idempotence", "Concurrency", "GPU",
		"Secrets", "Rootless", "Cleanup"}, Groups())
	seen := map[string]bool{}
	for _, g := range allGroups() {
		require.NotEmpty(t, g.tests, g.name)
		for _, tc := range g.tests {
			key := g.name + "/" + tc.name
			assert.False(t, seen[key], "duplicate test %s", key)
			seen[key] = true
			assert.NotNil(t, tc.fn, key)
		}
	}
}
