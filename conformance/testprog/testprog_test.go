package testprog

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSys is an in-memory System.
type testSys struct {
	args     []string
	env      []string
	wd       string
	hostname string
	uid, gid int
	stdin    io.Reader
	stdout   syncBuffer
	stderr   syncBuffer
	sigs     chan os.Signal
	done     chan struct{}

	mu    sync.Mutex
	files map[string][]byte
}

func newSys(args ...string) *testSys {
	return &testSys{
		args:     append([]string{"/testprog"}, args...),
		env:      []string{"PATH=/bin", "A=1", "B=x=y"},
		wd:       "/work",
		hostname: "box",
		uid:      1000,
		gid:      1001,
		stdin:    strings.NewReader(""),
		sigs:     make(chan os.Signal, 4),
		done:     make(chan struct{}),
		files:    map[string][]byte{},
	}
}

func (s *testSys) Args() []string            { return s.args }
func (s *testSys) Environ() []string         { return s.env }
func (s *testSys) Getwd() (string, error)    { return s.wd, nil }
func (s *testSys) Hostname() (string, error) { return s.hostname, nil }
func (s *testSys) Getuid() int               { return s.uid }
func (s *testSys) Getgid() int               { return s.gid }
func (s *testSys) Stdin() io.Reader          { return s.stdin }
func (s *testSys) Stdout() io.Writer         { return &s.stdout }
func (s *testSys) Stderr() io.Writer         { return &s.stderr }
func (s *testSys) Signals() <-chan os.Signal { return s.sigs }
func (s *testSys) Done() <-chan struct{}     { return s.done }

func (s *testSys) Listen(network, _ string) (net.Listener, error) {
	return net.Listen(network, "127.0.0.1:0")
}

func (s *testSys) ReadFile(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), b...), nil
}

func (s *testSys) WriteFile(name string, data []byte, _ fs.FileMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = append([]byte(nil), data...)
	return nil
}

// start runs Main in the background; the returned function waits for its
// exit code (failing the test after 5 s).
func start(t *testing.T, sys *testSys) func() int {
	t.Helper()
	ch := make(chan int, 1)
	go func() { ch <- Main(sys) }()
	return func() int {
		t.Helper()
		select {
		case code := <-ch:
			return code
		case <-time.After(5 * time.Second):
			t.Fatal("testprog did not return within 5s")
			return -1
		}
	}
}

func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(b.String(), want) },
		5*time.Second, 5*time.Millisecond, "output never contained %q; got %q", want, b.String())
}

func TestSimpleCommands(t *testing.T) {
	cases := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"echo", []string{"echo", "a", "b c"}, 0, "a b c\n", ""},
		{"echo-empty", []string{"echo"}, 0, "\n", ""},
		{"echo-err", []string{"echo-err", "oops"}, 0, "", "oops\n"},
		{"chain", []string{"echo", "a", ";", "echo-err", "b", ";", "echo", "c"}, 0, "a\nc\n", "b\n"},
		{"exit", []string{"exit", "3"}, 3, "", ""},
		{"exit-stops-chain", []string{"echo", "a", ";", "exit", "124", ";", "echo", "b"}, 124, "a\n", ""},
		{"env", []string{"env"}, 0, "PATH=/bin\nA=1\nB=x=y\n", ""},
		{"getenv", []string{"getenv", "B"}, 0, "x=y\n", ""},
		{"pwd", []string{"pwd"}, 0, "/work\n", ""},
		{"id", []string{"id"}, 0, "1000:1001\n", ""},
		{"hostname", []string{"hostname"}, 0, "box\n", ""},
		{"long-line", []string{"long-line", "5"}, 0, "xxxxx\n", ""},
		{"long-line-zero", []string{"long-line", "0"}, 0, "\n", ""},
		{"bulk", []string{"bulk", "3"}, 0, "line 1\nline 2\nline 3\n", ""},
		{"no-newline", []string{"echo", "first", ";", "no-newline", "last"}, 0, "first\nlast", ""},
		{"sleep", []string{"sleep", "10ms", ";", "echo", "woke"}, 0, "woke\n", ""},
		{"sleep-seconds", []string{"sleep", "0.01", ";", "echo", "woke"}, 0, "woke\n", ""},
		{"marker", []string{"marker", "READY", "10ms"}, 0, "READY\n", ""},
		{"empty-commands", []string{";", "echo", "x", ";", ";"}, 0, "x\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sys := newSys(c.args...)
			code := Main(sys)
			assert.Equal(t, c.code, code)
			assert.Equal(t, c.stdout, sys.stdout.String())
			assert.Equal(t, c.stderr, sys.stderr.String())
		})
	}
}

func TestFailingCommands(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		stderr   string
		noStdout string
	}{
		{"no-args", nil, 2, "usage:", ""},
		{"unknown", []string{"frobnicate"}, 1, `unknown command "frobnicate"`, ""},
		{"getenv-unset", []string{"getenv", "NOPE", ";", "echo", "after"}, 1, "NOPE is not set", "after"},
		{"cat-missing", []string{"cat", "/nope"}, 1, "/nope", ""},
		{"bad-exit", []string{"exit", "x"}, 1, "bad exit code", ""},
		{"bad-sleep", []string{"sleep", "forever"}, 1, "bad duration", ""},
		{"bad-count", []string{"bulk", "-1"}, 1, "bad count", ""},
		{"arity", []string{"marker", "x"}, 1, "want 2 argument(s)", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sys := newSys(c.args...)
			assert.Equal(t, c.code, Main(sys))
			assert.Contains(t, sys.stderr.String(), c.stderr)
			if c.noStdout != "" {
				assert.NotContains(t, sys.stdout.String(), c.noStdout)
			}
		})
	}
}

func TestLongLineIsExact(t *testing.T) {
	sys := newSys("long-line", "1048576")
	require.Equal(t, 0, Main(sys))
	out := sys.stdout.String()
	require.Len(t, out, 1048577)
	assert.Equal(t, strings.Repeat("x", 1048576)+"\n", out)
}

func TestBulkIsOrdered(t *testing.T) {
	sys := newSys("bulk", "5000")
	require.Equal(t, 0, Main(sys))
	lines := strings.Split(strings.TrimSuffix(sys.stdout.String(), "\n"), "\n")
	require.Len(t, lines, 5000)
	assert.Equal(t, "line 1", lines[0])
	assert.Equal(t, "line 2500", lines[2499])
	assert.Equal(t, "line 5000", lines[4999])
}

func TestFiles(t *testing.T) {
	sys := newSys("write", "/data/f", "hello world", ";", "cat", "/data/f")
	require.Equal(t, 0, Main(sys))
	assert.Equal(t, "hello world", sys.stdout.String())
	b, err := sys.ReadFile("/data/f")
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(b))
}

func TestStdin(t *testing.T) {
	sys := newSys("stdin", ";", "echo", "end")
	sys.stdin = strings.NewReader("one\ntwo")
	require.Equal(t, 0, Main(sys))
	assert.Equal(t, "one\ntwoend\n", sys.stdout.String())
}

func TestStdinEndsOnSignal(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close() // lets the copying goroutine end
	sys := newSys("stdin")
	sys.stdin = pr
	wait := start(t, sys)
	sys.sigs <- syscall.SIGTERM
	assert.Equal(t, 143, wait())
}

func TestSignalsEndSleep(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}, {syscall.SIGHUP, 129}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			sys := newSys("sleep", "60s", ";", "echo", "not reached")
			wait := start(t, sys)
			sys.sigs <- c.sig
			began := time.Now()
			assert.Equal(t, c.code, wait())
			assert.Less(t, time.Since(began), 2*time.Second)
			assert.Empty(t, sys.stdout.String())
		})
	}
}

func TestOtherSignalsIgnored(t *testing.T) {
	sys := newSys("sleep", "60s")
	wait := start(t, sys)
	sys.sigs <- syscall.SIGUSR1
	sys.sigs <- syscall.SIGTERM
	assert.Equal(t, 143, wait())
}

func TestPendingSignalEndsChainBetweenCommands(t *testing.T) {
	sys := newSys("echo", "a", ";", "echo", "b")
	sys.sigs <- syscall.SIGTERM
	assert.Equal(t, 143, Main(sys))
	assert.Empty(t, sys.stdout.String())
}

func TestDoneEndsAtOnce(t *testing.T) {
	for _, args := range [][]string{
		{"sleep", "1h"},
		{"marker", "x", "1h"},
		{"ignore-term"},
		{"serve-tcp", "0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			sys := newSys(args...)
			wait := start(t, sys)
			time.Sleep(20 * time.Millisecond)
			close(sys.done)
			wait()
		})
	}
}

func TestIgnoreTerm(t *testing.T) {
	sys := newSys("ignore-term")
	wait := start(t, sys)
	waitOutput(t, &sys.stdout, IgnoringTermLine+"\n")
	sys.sigs <- syscall.SIGTERM
	sys.sigs <- syscall.SIGTERM
	time.Sleep(50 * time.Millisecond)
	sys.sigs <- syscall.SIGINT
	assert.Equal(t, 130, wait())
}

func TestIgnoreTermUntilKilled(t *testing.T) {
	sys := newSys("ignore-term")
	wait := start(t, sys)
	waitOutput(t, &sys.stdout, IgnoringTermLine)
	sys.sigs <- syscall.SIGTERM
	time.Sleep(100 * time.Millisecond)
	close(sys.done)
	assert.Equal(t, 137, wait())
}

func TestServeTCP(t *testing.T) {
	sys := newSys("serve-tcp", "8080")
	wait := start(t, sys)
	waitOutput(t, &sys.stdout, ListeningPrefix)
	addr := strings.TrimSpace(strings.TrimPrefix(sys.stdout.String(), ListeningPrefix))

	// Two connections at once, one left open when the program stops.
	c1, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c1.Close()
	c2, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c2.Close()

	r1 := bufio.NewReader(c1)
	line, err := r1.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, Greeting+"\n", line)
	_, err = io.WriteString(c1, "ping\n")
	require.NoError(t, err)
	line, err = r1.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)

	line, err = bufio.NewReader(c2).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, Greeting+"\n", line)

	sys.sigs <- syscall.SIGTERM
	assert.Equal(t, 143, wait())
	// The program closed its connections and listener.
	_ = c1.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = r1.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF)
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err)
}

func TestServeTCPListenError(t *testing.T) {
	sys := newSys("serve-tcp", "1")
	sys2 := &failListen{sys}
	assert.Equal(t, 1, Main(sys2))
	assert.Contains(t, sys.stderr.String(), "address already in use")
}

type failListen struct{ *testSys }

func (f *failListen) Listen(string, string) (net.Listener, error) {
	return nil, &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
}

func TestSplit(t *testing.T) {
	assert.Equal(t, [][]string{{"a", "b"}, {"c"}}, split([]string{"a", "b", ";", "c", ";"}))
	assert.Nil(t, split(nil))
	assert.Nil(t, split([]string{";"}))
}
