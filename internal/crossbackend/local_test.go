package crossbackend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/podmancli"
)

// TestLocalPodmanKilledMidStream is TestEngineKilledMidStream for podman-cli
// in local mode, where no service runs: a followed log is read from
// conmon's log file, and the engine that says when it is complete is the
// `podman wait` process the backend started beside it. That process is
// killed (SIGKILL) while the stream is open; the stream must end with
// ErrEngineUnavailable (the container still runs: a clean end would say
// its log is complete), and the same runtime must work on. It uses the
// rotation instance's storage, taken alone with its lock.
func TestLocalPodmanKilledMidStream(t *testing.T) {
	rot := conformance.RotatingPodmanFromEnv(t)
	rot.Lock(t)
	rt, err := podmancli.New(podmancli.Config{Local: true,
		Env: []string{"CONTAINERS_CONF=" + rot.ContainersConf(), "CONTAINERS_STORAGE_CONF=" + rot.StorageConf()}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, rt.ImportImage(ctx, killedImage, bytes.NewReader(conformance.TestImageTar(t)),
		ctrgate.ImportOptions{Entrypoint: []string{conformance.TestProgPath}}))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ctg-kl-" + hex.EncodeToString(b)
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: name, Image: killedImage, PullPolicy: ctrgate.PullNever,
		Command: []string{"marker", "ready", "0s", ";", "sleep", "600s"}})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		assert.NoError(t, ctrgate.FirstError(ctrgate.RemoveAll(cctx, rt, []string{name})))
	})

	st, err := rt.Logs(ctx, name, ctrgate.LogOptions{Follow: true})
	require.NoError(t, err)
	defer st.Close()
	l, err := st.Next()
	require.NoError(t, err)
	require.Equal(t, "ready", l.Text)
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := st.Next(); err != nil {
				ended <- err
				return
			}
		}
	}()

	pid := childWithArgs(t, "wait")
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	select {
	case err := <-ended:
		took := time.Since(killed)
		t.Logf("podman-cli (local): the followed Logs stream ended %v after its podman was killed: %v", took.Round(time.Millisecond), err)
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "the stream ends with an error, never io.EOF")
		assert.Less(t, took, 5*time.Second)
	case <-time.After(30 * time.Second):
		t.Fatal("the followed Logs stream did not end within 30 s of its podman's death")
	}

	running, err := ctrgate.IsRunning(ctx, rt, name)
	require.NoError(t, err, "the same runtime works on")
	assert.True(t, running, "the container did not die with the podman that followed its log")
}

// childWithArgs returns the pid of the one child process of this test
// whose command line holds every one of args, waiting up to 10 s for it.
func childWithArgs(t *testing.T, args ...string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		found := childrenWithArgs(t, args...)
		if len(found) > 0 || time.Now().After(deadline) {
			require.Len(t, found, 1, "child processes with %q", args)
			return found[0]
		}
	}
}

// childrenWithArgs lists the child processes of this test whose command
// line holds every one of args.
func childrenWithArgs(t *testing.T, args ...string) []int {
	t.Helper()
	self := os.Getpid()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var found []int
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(cmdline), "\x00")
		all := true
		for _, a := range args {
			all = all && containsString(argv, a)
		}
		if all {
			pid, _ := strconv.Atoi(filepath.Base(d))
			found = append(found, pid)
		}
	}
	return found
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
