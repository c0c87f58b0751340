package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/fake"
)

// The built-in testimage on a real engine.
//
// The in-memory fake holds "testimage" from the start (seedFake). A real
// engine gets it from ctrgate itself: the binary is multi-call (run as
// "testprog" it is the conformance test program, see main), so a root file
// system holding the running executable as /testprog is a complete image.
// `run testimage` imports it when the engine lacks it, and
// `image import-testimage` (re)imports it on demand. Only the exact
// reference "testimage" is built in: on Podman it is stored as
// localhost/testimage:latest, on Docker as testimage:latest, and both
// engines resolve "testimage" to it.

// Passwd and group files of the built-in testimage: the same as the
// conformance test image's (conformance.Passwd / conformance.Group, checked
// by a test; package conformance is not linked into the binary).
const (
	testImagePasswd = "root:x:0:0:root:/root:/testprog\n" +
		"ctrgate:x:1000:1000:ctrgate:/tmp:/testprog\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/testprog\n"
	testImageGroup = "root:x:0:\n" +
		"ctrgate:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// staticBuildHint is the advice when the binary cannot run in an image.
const staticBuildHint = "build ctrgate with CGO_ENABLED=0 " +
	"(CGO_ENABLED=0 go build -tags containers_image_openpgp,exclude_graphdriver_btrfs ./cmd/ctrgate)"

// notStaticError reports an executable that needs a dynamic loader (or is
// not a Linux ELF executable at all), so it cannot be the only file of an
// image.
type notStaticError struct {
	path   string
	interp string // the PT_INTERP loader; "" when the file is not ELF
	reason string // why it is unusable when interp is ""
}

func (e *notStaticError) Error() string {
	if e.interp != "" {
		return fmt.Sprintf("cannot build the built-in testimage: %s is dynamically linked (it needs %s), so it cannot run alone inside an image", e.path, e.interp)
	}
	return fmt.Sprintf("cannot build the built-in testimage: %s %s", e.path, e.reason)
}

// elfInterpreter returns the program interpreter (dynamic loader) named by
// the PT_INTERP program header of the ELF file in r, or "" when there is
// none: the file is statically linked. A file that is not ELF is an error.
func elfInterpreter(r io.ReaderAt) (string, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil {
			return "", fmt.Errorf("reading PT_INTERP: %w", err)
		}
		interp := strings.TrimRight(string(b), "\x00")
		if interp == "" {
			interp = "a dynamic loader"
		}
		return interp, nil
	}
	return "", nil
}

// checkStaticExecutable checks that r (the executable at path) is a
// statically linked Linux ELF executable for this architecture; otherwise
// it returns a *notStaticError.
func checkStaticExecutable(r io.ReaderAt, path string) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return &notStaticError{path: path, reason: "is not an ELF executable (the image needs a Linux binary)"}
	}
	machine := f.Machine
	f.Close()
	if want, ok := goarchMachine[runtime.GOARCH]; ok && machine != want {
		return &notStaticError{path: path, reason: fmt.Sprintf("is built for %s, not %s", machine, want)}
	}
	interp, err := elfInterpreter(r)
	if err != nil {
		return &notStaticError{path: path, reason: "cannot be read as ELF: " + err.Error()}
	}
	if interp != "" {
		return &notStaticError{path: path, interp: interp}
	}
	return nil
}

// goarchMachine maps GOARCH to the ELF machine of its binaries.
var goarchMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// testImageMTime is the modification time of every entry of the rootfs
// tar (fixed, so equal binaries give equal layers).
var testImageMTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// writeTestImageTar writes the root file system of the built-in testimage
// to w: the conformance image's layout (/etc/passwd, /etc/group,
// /etc/hostname, empty /etc/hosts and /etc/resolv.conf, /tmp 1777, /data
// 0777, /root 0700, the mount points /proc, /sys, /dev) with the size bytes
// of bin as /testprog (0755).
func writeTestImageTar(w io.Writer, bin io.Reader, size int64) error {
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: testImageMTime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: testImageMTime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		n, err := io.CopyN(tw, r, size)
		if err != nil {
			return fmt.Errorf("packing %s: %d of %d bytes: %w", name, n, size, err)
		}
		return nil
	}
	text := func(name, data string) error {
		return file(name, 0o644, int64(len(data)), strings.NewReader(data))
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755) },
		func() error { return text("etc/passwd", testImagePasswd) },
		func() error { return text("etc/group", testImageGroup) },
		func() error { return text("etc/hostname", "testprog\n") },
		func() error { return text("etc/hosts", "") },
		func() error { return text("etc/resolv.conf", "") },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("data", 0o777) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("proc", 0o555) },
		func() error { return dir("sys", 0o555) },
		func() error { return dir("dev", 0o755) },
		func() error { return file(strings.TrimPrefix(embeddedProgPath, "/"), 0o755, size, bin) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return tw.Close()
}

// openSelf opens the running executable; path is for messages. On Linux
// /proc/self/exe is used, which works even when the file was replaced or
// deleted since the process started.
func openSelf() (f *os.File, path string, err error) {
	path, perr := os.Executable()
	if perr != nil {
		path = "the ctrgate executable"
	}
	if runtime.GOOS == "linux" {
		if f, err := os.Open("/proc/self/exe"); err == nil {
			return f, path, nil
		}
	}
	if perr != nil {
		return nil, path, fmt.Errorf("locating the ctrgate executable: %w", perr)
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, path, fmt.Errorf("opening the ctrgate executable: %w", err)
	}
	return f, path, nil
}

// errTarAbandoned ends the tar writer when the import returned before
// reading the whole stream.
var errTarAbandoned = errors.New("import ended before the whole image was read")

// isFake reports whether rt is the in-memory fake, which holds testimage
// as an in-process program (seedFake) and needs no import.
func (a *app) isFake(rt ctrgate.ContainerRuntime) bool {
	_, ok := ctrgate.DriverOf(rt).(*fake.Runtime)
	return ok
}

// backendName names rt's backend for messages.
func (a *app) backendName(ctx context.Context, rt ctrgate.ContainerRuntime) string {
	if info, err := rt.Info(ctx); err == nil && info.Backend != "" {
		return info.Backend
	}
	if a.g.backend != "" {
		return a.g.backend
	}
	return "the engine"
}

// ensureTestImage imports the built-in testimage into a real engine that
// lacks it, when ref is exactly "testimage". Other references, the fake
// and an engine that has the image are left alone.
func (a *app) ensureTestImage(ctx context.Context, rt ctrgate.ContainerRuntime, ref string) error {
	if ref != embeddedImage || a.isFake(rt) {
		return nil
	}
	ok, err := rt.ImageExists(ctx, ref)
	if err != nil || ok {
		return err
	}
	return a.importTestImage(ctx, rt)
}

// importTestImage packs the running executable as /testprog of a root file
// system and imports it as "testimage" with the entrypoint /testprog. It
// prints one notice line on stderr first. The executable must be a static
// Linux binary of this architecture (checked before any engine call that
// changes something).
func (a *app) importTestImage(ctx context.Context, rt ctrgate.ContainerRuntime) error {
	f, path, err := openSelf()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkStaticExecutable(f, path); err != nil {
		return withHint(err, staticBuildHint)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot build the built-in testimage: %w", err)
	}
	fmt.Fprintf(a.stderr, "ctrgate: importing built-in %s into %s\n", embeddedImage, a.backendName(ctx, rt))
	_ = a.stderr.Flush()

	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		err := writeTestImageTar(pw, io.NewSectionReader(f, 0, st.Size()), st.Size())
		_ = pw.CloseWithError(err) // nil: EOF for the reader
		werr <- err
	}()
	body := &countingReader{r: pr}
	stop := func(bool) {}
	if !a.g.json && a.isTTY(a.rawStderr) {
		stop = startSpinner(a.rawStderr, byteProgress("importing "+embeddedImage, body, st.Size()), time.Now())
	}
	err = rt.ImportImage(ctx, embeddedImage, body, ctrgate.ImportOptions{Entrypoint: []string{embeddedProgPath}})
	stop(err == nil)
	_ = pr.CloseWithError(errTarAbandoned) // unblocks the writer if the import stopped reading
	if wErr := <-werr; err == nil && wErr != nil && !errors.Is(wErr, errTarAbandoned) {
		err = wErr
	}
	if err != nil {
		return fmt.Errorf("importing the built-in %s: %w", embeddedImage, err)
	}
	return nil
}
