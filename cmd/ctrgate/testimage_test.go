package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/fake"
)

// synthELF returns a minimal 64-bit little-endian ELF executable for
// machine with a PT_LOAD header and, when interp is not empty, a PT_INTERP
// header naming it (as a dynamically linked binary has).
func synthELF(t *testing.T, machine elf.Machine, interp string) []byte {
	t.Helper()
	const ehsize, phentsize = 64, 56
	progs := []elf.Prog64{{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000}}
	if interp != "" {
		progs = append(progs, elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Align: 1})
	}
	dataOff := uint64(ehsize + phentsize*len(progs))
	if interp != "" {
		p := &progs[len(progs)-1]
		p.Off, p.Filesz, p.Memsz = dataOff, uint64(len(interp)+1), uint64(len(interp)+1)
	}
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Phoff: ehsize, Ehsize: ehsize, Phentsize: phentsize, Phnum: uint16(len(progs)), Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, h))
	for _, p := range progs {
		require.NoError(t, binary.Write(&buf, binary.LittleEndian, p))
	}
	require.Equal(t, int(dataOff), buf.Len())
	if interp != "" {
		buf.WriteString(interp + "\x00")
	}
	return buf.Bytes()
}

func hostMachine(t *testing.T) elf.Machine {
	m, ok := goarchMachine[runtime.GOARCH]
	if !ok {
		t.Skipf("no ELF machine known for GOARCH %s", runtime.GOARCH)
	}
	return m
}

// TestStaticDetection: a PT_INTERP header means dynamic; no PT_INTERP
// means static; a non-ELF file or another architecture is rejected.
func TestStaticDetection(t *testing.T) {
	m := hostMachine(t)
	static := synthELF(t, m, "")
	interp, err := elfInterpreter(bytes.NewReader(static))
	require.NoError(t, err)
	assert.Empty(t, interp)
	assert.NoError(t, checkStaticExecutable(bytes.NewReader(static), "/x/static"))

	const loader = "/lib64/ld-linux-x86-64.so.2"
	dynamic := synthELF(t, m, loader)
	interp, err = elfInterpreter(bytes.NewReader(dynamic))
	require.NoError(t, err)
	assert.Equal(t, loader, interp)
	err = checkStaticExecutable(bytes.NewReader(dynamic), "/x/dynamic")
	var ns *notStaticError
	require.ErrorAs(t, err, &ns)
	assert.Equal(t, loader, ns.interp)
	assert.Contains(t, err.Error(), "/x/dynamic is dynamically linked")
	assert.Contains(t, err.Error(), loader)

	_, err = elfInterpreter(strings.NewReader("#!/bin/sh\necho not elf\n"))
	assert.Error(t, err)
	err = checkStaticExecutable(strings.NewReader("#!/bin/sh\necho not elf\n"), "/x/script")
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "not an ELF executable")

	other := elf.EM_AARCH64
	if m == elf.EM_AARCH64 {
		other = elf.EM_X86_64
	}
	err = checkStaticExecutable(bytes.NewReader(synthELF(t, other, "")), "/x/foreign")
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "is built for "+other.String())

	// A real dynamically linked system binary, when there is one.
	if f, err := os.Open("/bin/sh"); err == nil {
		defer f.Close()
		if interp, err := elfInterpreter(f); err == nil && interp != "" {
			assert.Error(t, checkStaticExecutable(f, "/bin/sh"), "/bin/sh needs %s", interp)
		}
	}
}

// tarEntry is one member of a tar stream.
type tarEntry struct {
	typ  byte
	mode int64
	data string
}

func readTar(t *testing.T, r io.Reader) (map[string]tarEntry, []string) {
	t.Helper()
	entries := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		entries[h.Name] = tarEntry{typ: h.Typeflag, mode: h.Mode, data: string(b)}
		order = append(order, h.Name)
	}
	return entries, order
}

// TestTestImageTarLayout pins the root file system of the built-in
// testimage: the conformance image's layout around the given binary.
func TestTestImageTarLayout(t *testing.T) {
	assert.Equal(t, conformance.Passwd, testImagePasswd)
	assert.Equal(t, conformance.Group, testImageGroup)

	bin := "\x7fELF pretend binary"
	var buf bytes.Buffer
	require.NoError(t, writeTestImageTar(&buf, strings.NewReader(bin+"trailing bytes not packed"), int64(len(bin))))
	got, order := readTar(t, &buf)
	want := map[string]tarEntry{
		"etc/":            {tar.TypeDir, 0o755, ""},
		"etc/passwd":      {tar.TypeReg, 0o644, conformance.Passwd},
		"etc/group":       {tar.TypeReg, 0o644, conformance.Group},
		"etc/hostname":    {tar.TypeReg, 0o644, "testprog\n"},
		"etc/hosts":       {tar.TypeReg, 0o644, ""},
		"etc/resolv.conf": {tar.TypeReg, 0o644, ""},
		"tmp/":            {tar.TypeDir, 0o1777, ""},
		"data/":           {tar.TypeDir, 0o777, ""},
		"root/":           {tar.TypeDir, 0o700, ""},
		"proc/":           {tar.TypeDir, 0o555, ""},
		"sys/":            {tar.TypeDir, 0o555, ""},
		"dev/":            {tar.TypeDir, 0o755, ""},
		"testprog":        {tar.TypeReg, 0o755, bin},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, "testprog", order[len(order)-1], "the big binary comes last")
	assert.Equal(t, strings.TrimPrefix(conformance.TestProgPath, "/"), order[len(order)-1])

	// A binary shorter than announced is an error, not a truncated image.
	err := writeTestImageTar(io.Discard, strings.NewReader("short"), 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "testprog")
}

func TestIsTestProg(t *testing.T) {
	for arg0, want := range map[string]bool{
		"/testprog": true, "testprog": true, "./bin/testprog": true,
		"ctrgate": false, "/usr/local/bin/ctrgate": false, "testprog2": false, "/testprog/ctrgate": false,
	} {
		assert.Equal(t, want, isTestProg(arg0), arg0)
	}
}

// runOn runs one in-process invocation against rt (not closed).
func runOn(t *testing.T, rt ctrgate.ContainerRuntime, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" })
	a.open = func(context.Context, *app) (ctrgate.ContainerRuntime, error) { return noClose{rt}, nil }
	code := a.main(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// TestTestImageImportPath drives the import through the CLI against a
// runtime that is not seen as the fake (a bare fake behind a wrapper) and
// lacks testimage. Whether the import can work depends on how this test
// binary was linked (-race binaries are dynamic): both outcomes are checked.
func TestTestImageImportPath(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	f, err := os.Open(self)
	require.NoError(t, err)
	interp, err := elfInterpreter(f)
	require.NoError(t, f.Close())
	if err != nil {
		t.Skipf("the test binary is not ELF: %v", err)
	}
	rt := fake.New()
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })

	r := runOn(t, rt, "run", "--rm", "-a", "testimage", "echo", "hi")
	if interp != "" {
		assert.Equal(t, exitToolError, r.code)
		msg, hint := requireOneErrorLine(t, r.stderr)
		assert.Contains(t, msg, "is dynamically linked (it needs "+interp+")")
		assert.Contains(t, hint, "build ctrgate with CGO_ENABLED=0")
		r = runOn(t, rt, "image", "import-testimage")
		assert.Equal(t, exitToolError, r.code)
		msg, _ = requireOneErrorLine(t, r.stderr)
		assert.Contains(t, msg, "dynamically linked")
		r = runOn(t, rt, "image", "exists", "testimage")
		assert.Equal(t, exitImageAbsent, r.code, "nothing was imported")
		return
	}
	// A static test binary: the import itself works (the fake cannot run
	// the imported /testprog, so only the image is checked).
	r = runOn(t, rt, "image", "import-testimage", "--json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "ctrgate: importing built-in testimage into fake\n", r.stderr)
	var ji jsonImage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ji))
	assert.Equal(t, jsonImage{Ref: "testimage", Imported: true, ElapsedMS: ji.ElapsedMS}, ji)
	r = runOn(t, rt, "image", "exists", "testimage")
	assert.Equal(t, exitOK, r.code)
}

// TestTestImageOnFakeNeedsNoImport: the fake has testimage built in.
func TestTestImageOnFakeNeedsNoImport(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--backend", "fake", "image", "import-testimage"}, nil, &out, &errb,
		func(string) string { return "" })
	assert.Equal(t, exitOK, code, errb.String())
	assert.Equal(t, "testimage: built into the in-memory fake (nothing to import)\n", out.String())
	assert.Empty(t, errb.String())

	e := newFakeEnv(t)
	r := e.run("image", "import-testimage", "extra")
	assert.Equal(t, exitToolError, r.code)
	requireOneErrorLine(t, r.stderr)
}

// goTool finds the go command for building the CLI.
func goTool(t *testing.T) string {
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH to build ctrgate with: %v", err)
	}
	return p
}

// buildStaticCLI builds this command with CGO_ENABLED=0 into dir.
func buildStaticCLI(t *testing.T, dir string) string {
	t.Helper()
	var flags []string
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if f != "-race" && f != "-msan" && f != "-asan" {
			flags = append(flags, f)
		}
	}
	bin := filepath.Join(dir, "ctrgate")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(t), "build", "-tags", "containers_image_openpgp,exclude_graphdriver_btrfs", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="+strings.Join(flags, " "))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build ./cmd/ctrgate: %s", out)
	st, err := os.Stat(bin)
	require.NoError(t, err)
	t.Logf("built %s with CGO_ENABLED=0 in %s: %.1f MB", bin, time.Since(start).Round(time.Millisecond), float64(st.Size())/1e6)
	return bin
}

// execCLI runs the built binary as a real process.
func execCLI(t *testing.T, bin string, args ...string) (res result, elapsed time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	elapsed = time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err, "running %s %v", bin, args)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}, elapsed
}

// TestStaticCLI builds the real binary with CGO_ENABLED=0 and checks that
// it is static, that it is the test program when called "testprog", and
// that `run testimage` imports the built-in image into each real engine
// that lacks it (podman-cli is the reference; the others when provisioned).
func TestStaticCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ctrgate with CGO_ENABLED=0; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the built-in testimage needs a Linux binary")
	}
	dir := t.TempDir()
	bin := buildStaticCLI(t, dir)

	t.Run("static", func(t *testing.T) {
		f, err := os.Open(bin)
		require.NoError(t, err)
		defer f.Close()
		assert.NoError(t, checkStaticExecutable(f, bin))
	})

	t.Run("multi-call", func(t *testing.T) {
		link := filepath.Join(dir, "testprog")
		require.NoError(t, os.Symlink(bin, link))
		r, _ := execCLI(t, link, "echo", "hello", ";", "echo-err", "oops", ";", "exit", "3")
		assert.Equal(t, 3, r.code)
		assert.Equal(t, "hello\n", r.stdout)
		assert.Equal(t, "oops\n", r.stderr)
		r, _ = execCLI(t, bin, "version")
		assert.Equal(t, 0, r.code, r.stderr)
		assert.True(t, strings.HasPrefix(r.stdout, "ctrgate "), r.stdout)
	})

	for _, s := range realEngines {
		t.Run(s.backend, func(t *testing.T) { testBuiltinImageOnEngine(t, requireEngine(t, s), bin) })
	}
}

// testImageContainers returns the IDs (and names) of all containers whose
// image is testimage.
func testImageContainers(t *testing.T, bin, backendName string) map[string]string {
	t.Helper()
	r, _ := execCLI(t, bin, "--backend", backendName, "ps", "-a", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var cs []jsonContainer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cs))
	ids := map[string]string{}
	for _, c := range cs {
		img := strings.TrimSuffix(c.Image, ":latest")
		if img == "testimage" || strings.HasSuffix(img, "/testimage") {
			ids[c.ID] = c.Name
		}
	}
	return ids
}

// assertDemoStory checks the stderr of the demo (run --rm -a --ready): the
// import when there was one, then the backend and engine, the container,
// the time to ready, the exit code and the removal.
func assertDemoStory(t *testing.T, stderr, be string, imported bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if imported {
		require.NotEmpty(t, lines)
		assert.Equal(t, "ctrgate: importing built-in testimage into "+be, lines[0])
		lines = lines[1:]
	}
	require.Len(t, lines, 3, stderr)
	assert.Regexp(t, `^ctrgate: `+regexp.QuoteMeta(be)+` \((podman|docker) [0-9][^)]*\): started \S+ \(testimage\)$`, lines[0])
	assert.Regexp(t, `^ctrgate: \S+ ready after [0-9.]+m?s$`, lines[1])
	assert.Regexp(t, `^ctrgate: \S+ exited with code 0; removed$`, lines[2])
}

func testBuiltinImageOnEngine(t *testing.T, e *realEnv, bin string) {
	be := e.backend
	// Start without testimage.
	r, _ := execCLI(t, bin, "--backend", be, "image", "rm", "-f", "testimage")
	if r.code != 0 {
		assert.Contains(t, strings.ToLower(r.stderr), "no such image", "removing testimage: %s", r.stderr)
	}
	r, _ = execCLI(t, bin, "--backend", be, "image", "exists", "testimage")
	require.Equal(t, exitImageAbsent, r.code, "testimage must be gone: %s %s", r.stdout, r.stderr)
	before := testImageContainers(t, bin, be)

	// The README's demo, as a real process: imports, runs, removes.
	r, took := execCLI(t, bin, "--backend", be, "run", "--rm", "-a", "--ready", "READY", "testimage", "marker", "READY", "500ms")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "READY\n", r.stdout)
	assertDemoStory(t, r.stderr, be, true)
	assert.GreaterOrEqual(t, took, 500*time.Millisecond)
	t.Logf("%s: demo with import: %s", be, took.Round(time.Millisecond))
	after := testImageContainers(t, bin, be)
	for id, name := range after {
		_, old := before[id]
		assert.True(t, old, "container %s (%s) was left behind", name, id)
	}

	// Now present: no import, same result.
	r, took = execCLI(t, bin, "--backend", be, "run", "--rm", "-a", "--ready", "READY", "testimage", "marker", "READY", "500ms")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "READY\n", r.stdout)
	assertDemoStory(t, r.stderr, be, false)
	t.Logf("%s: demo, image present: %s", be, took.Round(time.Millisecond))

	// The image holds the test program with the conformance layout:
	// /etc/passwd's user, writable /tmp. (The final echo ends the line:
	// the output is a whole line on every backend.)
	r, _ = execCLI(t, bin, "--backend", be, "run", "--rm", "-a", "--user", "ctrgate", "testimage",
		"id", ";", "write", "/tmp/x", "ok", ";", "cat", "/tmp/x", ";", "echo")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "1000:1000\nok\n", r.stdout)

	// The explicit command re-imports.
	r, took = execCLI(t, bin, "--backend", be, "--json", "image", "import-testimage")
	require.Equal(t, 0, r.code, r.stderr)
	var ji jsonImage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ji))
	assert.Equal(t, "testimage", ji.Ref)
	assert.True(t, ji.Imported)
	t.Logf("%s: image import-testimage: %s (import %d ms)", be, took.Round(time.Millisecond), ji.ElapsedMS)
}
