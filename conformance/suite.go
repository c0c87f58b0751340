package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ctrgate/ctrgate"
)

// Optional capabilities. A backend lists those it lacks in Harness.Lacks;
// the tests needing them report "NOT APPLICABLE" instead of running.
const (
	// CapEvents: ContainerRuntime.Events streams lifecycle events.
	CapEvents Capability = "events"
	// CapCopy: CopyTo and CopyFrom move files in and out of containers.
	CapCopy Capability = "copy"
	// CapPorts: published ports are reachable from the host.
	CapPorts Capability = "ports"
	// CapUserNS: ContainerSpec.UserNS is honoured.
	CapUserNS Capability = "userns"
	// CapBindMounts: host directories can be bind-mounted (the engine
	// shares the test's file system).
	CapBindMounts Capability = "bind-mounts"
	// CapReadOnlyRootfs: ContainerSpec.ReadOnlyRootfs is honoured.
	CapReadOnlyRootfs Capability = "read-only-rootfs"
	// CapLivePartialLines: a followed log delivers text without a newline
	// while the container runs (LogLine.Partial).
	CapLivePartialLines Capability = "live-partial-lines"
)

// TestTimeout is the deadline of the context every suite test works
// under: a hung backend fails the test instead of hanging it.
const TestTimeout = 60 * time.Second

// ImportTimeout bounds the import of the test image at the start of Run.
const ImportTimeout = 3 * time.Minute

// cleanupTimeout bounds the removal of a test's containers.
const cleanupTimeout = 30 * time.Second

// suite is the state shared by the tests of one Run.
type suite struct {
	h       Harness
	rt      ctrgate.ContainerRuntime // the harness's runtime behind the contract layer
	backend string                   // the driver's name for itself (Info.Backend)
	image   string
	prefix  string // unique name prefix of this Run: "ctg-<random>-"
	loaded  bool   // the load lane (RunUnderLoad)

	mu      sync.Mutex
	results map[string]*result // by test name (t.Name())
	order   []*result
}

// result is the outcome of one suite test, for the summary.
type result struct {
	group, name string
	notApp      string // reason, when not applicable
	failed      bool
	skipped     bool
	dur         time.Duration
}

// suiteTest is one test of a group.
type suiteTest struct {
	name     string
	parallel bool
	fn       func(t *testing.T, s *suite)
}

// group is a named set of tests run as one subtest of Run.
type group struct {
	name  string
	tests []suiteTest
}

// Groups returns the names of the suite's groups in the order Run runs
// them (Cleanup, which Run adds last, included).
func Groups() []string {
	var out []string
	for _, g := range allGroups() {
		out = append(out, g.name)
	}
	return append(out, "Cleanup")
}

func allGroups() []group {
	return []group{
		engineGroup(),
		lifecycleGroup(),
		statesGroup(),
		waitGroup(),
		logsGroup(),
		readinessGroup(),
		execGroup(),
		copyGroup(),
		eventsGroup(),
		imagesGroup(),
		errorsGroup(),
		specValidationGroup(),
		contextGroup(),
		configGroup(),
		portsGroup(),
		stopGroup(),
		idempotenceGroup(),
		concurrencyGroup(),
		gpuGroup(),
		secretsGroup(),
		rootlessGroup(),
	}
}

// Run runs the whole conformance suite against the backend h describes.
//
// It builds the test program, imports the test image with the runtime's
// own ImportImage, runs every group as a subtest with a stable name
// (Engine, Lifecycle, StatesListing, Wait, Logs, Readiness, Exec, Copy,
// Events, Images, Errors, SpecValidation, Context, Config, Ports, Stop,
// Idempotence, Concurrency, GPU, Secrets, Rootless, Cleanup), and logs a summary. Every container
// it creates is named "ctg-<random>-..." and removed when its test ends;
// the Cleanup group checks that none is left, closes the runtime and
// checks that the runtime's goroutines have ended. Run must not run in
// parallel with other tests of the same process (the goroutine check would
// see theirs).
func Run(t *testing.T, h Harness) {
	s, ignore := setUp(t, h, false)
	rt := s.rt
	began := time.Now()

	s.runGroups(t, allGroups())

	t.Run("Cleanup", func(t *testing.T) {
		t.Run("NoContainersLeft", func(t *testing.T) {
			r := s.track(t, "Cleanup", "NoContainersLeft")
			defer func() { r.failed = t.Failed() }()
			ctx := s.ctx(t)
			left, err := rt.List(ctx, ctrgate.ListFilter{NamePrefix: s.prefix, All: true})
			require.NoError(t, err)
			var names []string
			for _, c := range left {
				names = append(names, c.Name)
			}
			assert.Empty(t, names, "containers left behind by the suite")
			if len(names) > 0 { // do not pollute the engine
				ctrgate.RemoveAll(ctx, rt, names)
			}
		})
		t.Run("CloseReleasesEverything", func(t *testing.T) {
			r := s.track(t, "Cleanup", "CloseReleasesEverything")
			defer func() { r.failed = t.Failed() }()
			require.NoError(t, rt.Close())
			ctx := s.ctx(t)
			_, err := rt.Info(ctx)
			assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "calls after Close")
			_, err = rt.Inspect(ctx, s.prefix+"after-close")
			assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, "calls after Close")
			assert.NoError(t, goleak.Find(ignore), "goroutines left running after Close")
		})
	})

	s.summary(t, time.Since(began))
}

// setUp is what Run and RunUnderLoad do first: it checks the harness,
// builds the test image, notes the goroutines already running (the
// returned option ignores them), opens the runtime (closed when t ends)
// and imports the test image with the runtime's own ImportImage.
func setUp(t *testing.T, h Harness, loaded bool) (*suite, goleak.Option) {
	require.NotNil(t, h.New, "Harness.New is required")
	if h.Name == "" {
		h.Name = "backend"
	}
	tarball := TestImageTar(t)
	ignore := goleak.IgnoreCurrent()
	s := &suite{h: h, image: h.image(), prefix: "ctg-" + randHex(4) + "-", results: map[string]*result{}, loaded: loaded}
	rt := s.open(t)
	t.Cleanup(func() { _ = rt.Close() }) // a no-op once the suite has closed it
	s.rt = rt
	require.NoError(t, importTestImage(rt, s.image, tarball), "importing the test image %s", s.image)
	t.Logf("%s: imported %s (%d bytes); container names start with %s", h.Name, s.image, len(tarball), s.prefix)
	return s, ignore
}

// open returns a new runtime of the harness behind the contract layer
// (ctrgate.Enforce), as backend.Open gives it to users: the suite checks
// what they get. The backend's name for the layer's errors is the one the
// driver reports in Info.
func (s *suite) open(t testing.TB) ctrgate.ContainerRuntime {
	t.Helper()
	drv := s.h.New(t)
	require.NotNil(t, drv, "Harness.New returned nil")
	if s.backend == "" {
		ctx, cancel := context.WithTimeout(context.Background(), TestTimeout)
		defer cancel()
		info, err := drv.Info(ctx)
		require.NoError(t, err, "Info of the new runtime")
		s.backend = info.Backend
	}
	return ctrgate.Enforce(s.backend, drv)
}

// runGroups runs every group as a subtest, its tests as subtests of it.
func (s *suite) runGroups(t *testing.T, groups []group) {
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					r := s.track(t, g.name, tc.name)
					if tc.parallel {
						t.Parallel()
					}
					start := time.Now()
					t.Cleanup(func() {
						r.failed = t.Failed()
						r.skipped = t.Skipped()
						r.dur = time.Since(start)
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

// EnvImageSuffix names a suffix for the test image's tag (letters, digits,
// '-', '_', '.'): lanes of one backend that share an engine (docker over
// ssh and over TLS on one remote dockerd) each import their own tag, so
// that neither removes or replaces the other's image.
const EnvImageSuffix = "CTRGATE_TEST_IMAGE_SUFFIX"

var imageSuffixPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// image returns the reference the test image is imported as: Image (or
// DefaultImage), its tag extended by "-" and $CTRGATE_TEST_IMAGE_SUFFIX
// when that is set and valid.
func (h Harness) image() string {
	ref := h.Image
	if ref == "" {
		ref = DefaultImage
	}
	if sfx := os.Getenv(EnvImageSuffix); imageSuffixPattern.MatchString(sfx) {
		ref += "-" + sfx
	}
	return ref
}

// importTestImage imports tarball (TestImageTar) as ref with rt's own
// ImportImage, its entrypoint TestProgPath, within ImportTimeout.
func importTestImage(rt ctrgate.ContainerRuntime, ref string, tarball []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), ImportTimeout)
	defer cancel()
	return rt.ImportImage(ctx, ref, bytes.NewReader(tarball), ctrgate.ImportOptions{Entrypoint: []string{TestProgPath}})
}

// track registers a test for the summary.
func (s *suite) track(t *testing.T, groupName, name string) *result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &result{group: groupName, name: name}
	s.results[t.Name()] = r
	s.order = append(s.order, r)
	return r
}

// summary logs how every group did.
func (s *suite) summary(t *testing.T, total time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type counts struct{ pass, fail, na, skip int }
	byGroup := map[string]*counts{}
	var groups []string
	var lines []string
	for _, r := range s.order {
		c := byGroup[r.group]
		if c == nil {
			c = &counts{}
			byGroup[r.group] = c
			groups = append(groups, r.group)
		}
		switch {
		case r.failed:
			c.fail++
			lines = append(lines, fmt.Sprintf("  FAIL %s/%s", r.group, r.name))
		case r.notApp != "":
			c.na++
			lines = append(lines, fmt.Sprintf("  N/A  %s/%s: %s", r.group, r.name, r.notApp))
		case r.skipped:
			c.skip++
			lines = append(lines, fmt.Sprintf("  SKIP %s/%s", r.group, r.name))
		default:
			c.pass++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "conformance summary for %s (%d groups, %s):\n", s.h.Name, len(groups), total.Round(100*time.Millisecond))
	for _, g := range groups {
		c := byGroup[g]
		fmt.Fprintf(&b, "  %-15s %2d passed, %d failed, %d not applicable", g, c.pass, c.fail, c.na)
		if c.skip > 0 {
			fmt.Fprintf(&b, ", %d skipped", c.skip)
		}
		b.WriteByte('\n')
	}
	sort.Strings(lines)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	t.Log(b.String())
}

// need reports whether the backend has capability c. When it lacks it,
// the test is reported as not applicable (in its log and the summary) and
// the caller must return.
func (s *suite) need(t *testing.T, c Capability) bool {
	t.Helper()
	reason, lacks := s.h.Lacks[c]
	if !lacks {
		return true
	}
	s.notApplicable(t, reason)
	return false
}

// notApplicable reports the test as not applicable to this backend.
func (s *suite) notApplicable(t *testing.T, reason string) {
	t.Helper()
	t.Logf("NOT APPLICABLE to %s: %s", s.h.Name, reason)
	s.mu.Lock()
	if r := s.results[t.Name()]; r != nil {
		r.notApp = reason
	}
	s.mu.Unlock()
}

// registry returns the registry of the pull tests, or nil after reporting
// the test as not applicable (failing it when CI=true); the caller must
// then return.
func (s *suite) registry(t *testing.T) *Registry {
	t.Helper()
	reg := s.h.Registry
	if reg == nil {
		reg = RegistryFromEnv()
	}
	if reg != nil {
		return reg
	}
	msg := "no registry: run scripts/registry.sh up (before the engine's script) and " +
		`eval "$(scripts/registry.sh env)" (` + EnvRegistry + " unset)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	s.notApplicable(t, "SKIPPING REAL-REGISTRY TEST: "+msg)
	return nil
}

// ctx returns a context with the suite's per-test deadline.
func (s *suite) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), TestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// name returns the container name prefix+suffix and registers its forced
// removal at the end of the test.
func (s *suite) name(t testing.TB, suffix string) string {
	n := s.prefix + suffix
	s.removeLater(t, n)
	return n
}

// removeLater force-removes the container name when the test ends.
func (s *suite) removeLater(t testing.TB, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		err := s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true, Volumes: true})
		if err != nil && !errors.Is(err, ctrgate.ErrNotFound) && !errors.Is(err, ctrgate.ErrInvalidSpec) {
			t.Errorf("cleanup: removing %s: %v", name, err)
		}
	})
}

// spec returns a spec running the test program with args.
func (s *suite) spec(name string, args ...string) ctrgate.ContainerSpec {
	return ctrgate.ContainerSpec{Name: name, Image: s.image, PullPolicy: ctrgate.PullNever, Command: args}
}

// create creates the container and fails the test on error.
func (s *suite) create(t testing.TB, ctx context.Context, spec ctrgate.ContainerSpec) string {
	t.Helper()
	id, err := s.rt.Create(ctx, spec)
	require.NoError(t, err, "create %s", spec.Name)
	require.NotEmpty(t, id, "create %s returned an empty ID", spec.Name)
	return id
}

// run creates and starts the container (ctrgate.Run) and fails the test
// on error.
func (s *suite) run(t testing.TB, ctx context.Context, spec ctrgate.ContainerSpec) string {
	t.Helper()
	id, err := ctrgate.Run(ctx, s.rt, spec)
	require.NoError(t, err, "run %s %v", spec.Name, spec.Command)
	require.NotEmpty(t, id)
	return id
}

// wait waits for the container's exit code and fails the test on error.
func (s *suite) wait(t testing.TB, ctx context.Context, name string) int {
	t.Helper()
	code, err := s.rt.Wait(ctx, name)
	require.NoError(t, err, "wait %s", name)
	return code
}

// runToExit runs the container to its end and returns its exit code.
func (s *suite) runToExit(t testing.TB, ctx context.Context, spec ctrgate.ContainerSpec) int {
	t.Helper()
	s.run(t, ctx, spec)
	return s.wait(t, ctx, spec.Name)
}

// logs reads the container's log until the stream ends, joining the
// pieces of partial lines (ctrgate.LineJoiner), as a consumer of whole
// lines does.
func (s *suite) logs(t testing.TB, ctx context.Context, name string, opts ctrgate.LogOptions) []ctrgate.LogLine {
	t.Helper()
	st, err := s.rt.Logs(ctx, name, opts)
	require.NoError(t, err, "logs %s", name)
	defer st.Close()
	var (
		out []ctrgate.LogLine
		j   ctrgate.LineJoiner
	)
	for {
		l, err := st.Next()
		if errors.Is(err, io.EOF) {
			return append(out, j.Flush()...)
		}
		require.NoError(t, err, "reading the logs of %s after %d lines", name, len(out))
		if !opts.Follow {
			assert.False(t, l.Partial, "a plain read delivers whole lines")
		}
		if l, ok := j.Add(l); ok {
			out = append(out, l)
		}
	}
}

// waitReady waits for a line containing marker, failing the test on error.
func (s *suite) waitReady(t testing.TB, ctx context.Context, name, marker string) ctrgate.LogLine {
	t.Helper()
	l, err := ctrgate.WaitReady(ctx, s.rt, name, ctrgate.MatchSubstring(marker))
	require.NoError(t, err, "waiting for %q from %s", marker, name)
	return l
}

// texts returns the texts of the lines of one stream.
func texts(lines []ctrgate.LogLine, stream ctrgate.Stream) []string {
	out := []string{}
	for _, l := range lines {
		if l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

// stdout runs the container to its end and returns its exit code and its
// stdout lines.
func (s *suite) stdout(t testing.TB, ctx context.Context, spec ctrgate.ContainerSpec) (int, []string) {
	t.Helper()
	code := s.runToExit(t, ctx, spec)
	return code, texts(s.logs(t, ctx, spec.Name, ctrgate.LogOptions{}), ctrgate.Stdout)
}

// requireGone asserts that no container called name exists.
func (s *suite) requireGone(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	_, err := s.rt.Inspect(ctx, name)
	assert.ErrorIs(t, err, ctrgate.ErrNotFound, "container %s must not exist", name)
	cs, err := s.rt.List(ctx, ctrgate.ListFilter{NamePrefix: name, All: true})
	require.NoError(t, err)
	for _, c := range cs {
		assert.NotEqual(t, name, c.Name, "container %s must not be listed", name)
	}
}

// sleeper is the argument list of a program that reports "ready" and then
// runs until stopped.
func sleeper() []string { return []string{"marker", "ready", "0s", ";", "sleep", "600s"} }

// randHex returns 2n random hex digits.
func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// within asserts that d is at most max.
func within(t testing.TB, d, max time.Duration, what string) {
	t.Helper()
	assert.LessOrEqual(t, d, max, "%s took %v, more than %v", what, d, max)
}
