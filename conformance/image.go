package conformance

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Passwd and Group are the /etc/passwd and /etc/group of the test image:
// root and an unprivileged user "ctrgate" (uid and gid 1000).
const (
	Passwd = "root:x:0:0:root:/root:/testprog\n" +
		"ctrgate:x:1000:1000:ctrgate:/tmp:/testprog\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/testprog\n"
	Group = "root:x:0:\n" +
		"ctrgate:x:1000:\n" +
		"nogroup:x:65534:\n"
)

var (
	buildOnce sync.Once
	buildBin  []byte
	buildErr  error

	tarOnce sync.Once
	tarData []byte
	tarErr  error
)

// TestProgBinary returns the test program compiled as a static Linux
// binary (CGO_ENABLED=0 go build of cmd/testprog). It is built once per
// test process; a build failure fails t.
func TestProgBinary(t testing.TB) []byte {
	t.Helper()
	buildOnce.Do(func() { buildBin, buildErr = buildTestProg() })
	if buildErr != nil {
		t.Fatalf("conformance: building the test program: %v", buildErr)
	}
	return buildBin
}

// TestImageTar returns the root file system of the test image as a tar
// stream, ready for ContainerRuntime.ImportImage with the entrypoint
// TestProgPath: /testprog (0755), /tmp (1777), /data (0777), /root,
// /etc/passwd and /etc/group (root and user "ctrgate", uid/gid 1000),
// /etc/hostname, empty /etc/hosts and /etc/resolv.conf, and the mount
// points /proc, /sys and /dev. It is built once per test process.
func TestImageTar(t testing.TB) []byte {
	t.Helper()
	bin := TestProgBinary(t)
	tarOnce.Do(func() { tarData, tarErr = buildRootfsTar(bin) })
	if tarErr != nil {
		t.Fatalf("conformance: packing the test image: %v", tarErr)
	}
	return tarData
}

// packageDir returns the directory of this source file's package; the go
// command finds the module from there.
func packageDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the conformance package source")
	}
	return filepath.Dir(file), nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go" // the error names the missing command
}

// EnvTestProgBinary names a prebuilt static test program (scripts/lanes.sh
// builds it once for all lanes) to use instead of building one.
const EnvTestProgBinary = "CTRGATE_TESTPROG_BINARY"

func buildTestProg() ([]byte, error) {
	if p := os.Getenv(EnvTestProgBinary); p != "" {
		return os.ReadFile(p)
	}
	dir, err := packageDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "ctrgate-testprog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "testprog")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testprog/cmd/testprog")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS="+staticGoFlags())
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build ./testprog/cmd/testprog in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return os.ReadFile(out)
}

// staticGoFlags returns $GOFLAGS without the flags a static (cgo-less)
// build cannot take, such as -race.
func staticGoFlags() string {
	var keep []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if f == "-race" || f == "-msan" || f == "-asan" {
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, " ")
}

// buildRootfsTar packs the image's root file system around bin.
func buildRootfsTar(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755) },
		func() error { return file("etc/passwd", 0o644, []byte(Passwd)) },
		func() error { return file("etc/group", 0o644, []byte(Group)) },
		func() error { return file("etc/hostname", 0o644, []byte("testprog\n")) },
		func() error { return file("etc/hosts", 0o644, nil) },
		func() error { return file("etc/resolv.conf", 0o644, nil) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("data", 0o777) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("proc", 0o555) },
		func() error { return dir("sys", 0o555) },
		func() error { return dir("dev", 0o755) },
		func() error { return file(strings.TrimPrefix(TestProgPath, "/"), 0o755, bin) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
