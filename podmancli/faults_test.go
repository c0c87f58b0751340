package podmancli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

// The tests of this file drive the backend with a fake podman (a shell
// script) that misbehaves in the ways of the project's issue 10.

const fakeID = "3f2b8c1d9e0a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"

func newFake(t *testing.T, script string) *Runtime {
	t.Helper()
	r, err := NewDriver(Config{Binary: fakePodman(t, script)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func engineErr(t *testing.T, err error, op string) *ctrgate.EngineError {
	t.Helper()
	var ee *ctrgate.EngineError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, op, ee.Op)
	assert.Equal(t, BackendName, ee.Backend)
	return ee
}

var createSpec = ctrgate.ContainerSpec{Name: "c1", Image: "img"}

func TestCreateAcceptsOnlyAContainerID(t *testing.T) {
	ctx := context.Background()
	for _, out := range []string{fakeID + "\n", "  " + fakeID + "  \n\n", fakeID} {
		r := newFake(t, "printf '%s' '"+out+"'\n")
		id, err := r.Create(ctx, createSpec)
		require.NoError(t, err, "%q", out)
		assert.Equal(t, fakeID, id)
	}
	for name, script := range map[string]string{
		"empty":       "exit 0\n",
		"garbage":     "echo 'Trying to pull docker.io/library/img...'\n",
		"short ID":    "echo " + fakeID[:12] + "\n",
		"upper case":  "echo " + strings.ToUpper(fakeID) + "\n",
		"65 hex":      "echo " + fakeID + "0\n",
		"two lines":   "echo 'some warning'; echo " + fakeID + "\n",
		"two IDs":     "echo " + fakeID + "; echo " + fakeID + "\n",
		"ID and junk": "echo '" + fakeID + " junk'\n",
	} {
		r := newFake(t, script)
		id, err := r.Create(ctx, createSpec)
		assert.Empty(t, id, name)
		ee := engineErr(t, err, ctrgate.OpCreate)
		assert.Equal(t, "c1", ee.Target, name)
		assert.Contains(t, err.Error(), "container ID", name)
	}
}

func TestCreateHugeOutputIsBoundedError(t *testing.T) {
	// 20 MB of garbage on stdout, then a clean exit
	r := newFake(t, "head -c 20000000 /dev/zero | tr '\\0' a\n")
	id, err := r.Create(context.Background(), createSpec)
	assert.Empty(t, id)
	engineErr(t, err, ctrgate.OpCreate)
	assert.Less(t, len(err.Error()), 1024, "the error does not carry the output")
	assert.Contains(t, err.Error(), "more than")
}

func TestCappedBufferKeepsAtMostItsLimit(t *testing.T) {
	b := &cappedBuffer{limit: 10}
	chunk := []byte("0123456789abcdef")
	for i := 0; i < 1000; i++ {
		n, err := b.Write(chunk)
		require.NoError(t, err, "podman is never stopped by a full buffer")
		require.Equal(t, len(chunk), n)
	}
	assert.Equal(t, "0123456789", b.buf.String())
	assert.True(t, b.overflow)
	small := &cappedBuffer{limit: 10}
	_, _ = small.Write([]byte("0123456789"))
	assert.False(t, small.overflow, "exactly the limit fits")
}

func TestListEmptyOutputIsAnError(t *testing.T) {
	for name, script := range map[string]string{
		"nothing":    "exit 0\n",
		"blank":      "echo\n",
		"null":       "echo null\n",
		"human":      "echo 'CONTAINER ID  IMAGE  COMMAND'\n",
		"truncated":  `echo '[{"Id":"abc"'` + "\n",
		"not a list": `echo '{"Id":"abc"}'` + "\n",
	} {
		r := newFake(t, script)
		cs, err := r.List(context.Background(), ctrgate.ListFilter{All: true})
		assert.Nil(t, cs, name)
		engineErr(t, err, ctrgate.OpList)
	}
	r := newFake(t, "echo '[]'\n")
	cs, err := r.List(context.Background(), ctrgate.ListFilter{All: true})
	require.NoError(t, err, "[] is podman's answer for no containers")
	assert.Empty(t, cs)
}

func TestSignalledPodmanIsEngineUnavailable(t *testing.T) {
	ctx := context.Background()
	r := newFake(t, "kill -KILL $$\n")
	check := func(err error, op string) {
		t.Helper()
		engineErr(t, err, op)
		assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable, op)
		assert.Contains(t, err.Error(), "signal 9", op)
	}
	check(r.Start(ctx, "c1"), ctrgate.OpStart)
	_, err := r.Create(ctx, createSpec)
	check(err, ctrgate.OpCreate)
	_, err = r.Inspect(ctx, "c1")
	check(err, ctrgate.OpInspect)
	_, err = r.List(ctx, ctrgate.ListFilter{})
	check(err, ctrgate.OpList)
	_, err = r.Exec(ctx, "c1", ctrgate.ExecOptions{Cmd: []string{"true"}})
	check(err, ctrgate.OpExec)
	_, err = r.ImageExists(ctx, "img")
	check(err, ctrgate.OpImageExists)
	check(r.PullImage(ctx, "img", ctrgate.PullAlways), ctrgate.OpPullImage)
	check(r.RemoveImage(ctx, "img", false), ctrgate.OpRemoveImage)
	_, err = r.Info(ctx)
	check(err, ctrgate.OpInfo)

	r = newFake(t, "kill -SEGV $$\n")
	err = r.Stop(ctx, "c1", 0)
	engineErr(t, err, ctrgate.OpStop)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Contains(t, err.Error(), "signal 11")
}

func TestSignalledPodmanInStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := newFake(t, `case "$1" in
container) echo '[{"Id":"`+fakeID+`","Name":"c1","State":{"Status":"running","Running":true}}]';;
*) kill -KILL $$;;
esac
`)
	st, err := r.Logs(ctx, "c1", ctrgate.LogOptions{})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Next()
	engineErr(t, err, ctrgate.OpLogs)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Contains(t, err.Error(), "signal 9")

	_, err = r.CopyFrom(ctx, "c1", "/etc")
	engineErr(t, err, ctrgate.OpCopyFrom)
	assert.ErrorIs(t, err, ctrgate.ErrEngineUnavailable)
	assert.Contains(t, err.Error(), "signal 9")
}

func TestEventsDeadlineIsEngineError(t *testing.T) {
	// podman events that follows and never prints anything
	r := newFake(t, "exec sleep 60\n")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st, err := r.Events(ctx, ctrgate.EventFilter{})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Next()
	ee := engineErr(t, err, ctrgate.OpEvents)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, ee, context.DeadlineExceeded)

	cctx, ccancel := context.WithCancel(context.Background())
	st2, err := r.Events(cctx, ctrgate.EventFilter{})
	require.NoError(t, err)
	defer st2.Close()
	ccancel()
	_, err = st2.Next()
	engineErr(t, err, ctrgate.OpEvents)
	assert.ErrorIs(t, err, context.Canceled)
}

// psTwoContainers is a `podman ps --format json` answer.
var psTwoContainers = `[
 {"Id":"` + fakeID + `","Names":["comma"],"State":"running","Labels":{"team":"a,b","app":"x"}},
 {"Id":"` + fakeID[1:] + `0","Names":["plain"],"State":"running","Labels":{"team":"a","app":"x"}},
 {"Id":"` + fakeID[2:] + `00","Names":["quote"],"State":"running","Labels":{"team":"say \"hi\"","app":"x"}}
]`

// podmanSplittingFilters is a fake podman 4.x ps or images: its --filter
// values are split at commas (pflag's StringSlice, a CSV record), so a value
// holding a comma fails ("invalid filter"), a quote is a CSV error; it
// prints answer otherwise (ignoring the filters, which the backend checks
// again). The filters it saw are written to dir/filters.
func podmanSplittingFilters(dir, answer string) string {
	return `prev=
for a in "$@"; do
	if [ "$prev" = --filter ]; then
		printf '%s\n' "$a" >> ` + dir + `/filters
		case "$a" in
		*\"*) echo 'Error: bare " in non-quoted-field' >&2; exit 125;;
		*,*) echo "Error: invalid filter \"${a#*,}\"" >&2; exit 125;;
		esac
	fi
	prev=$a
done
cat <<'EOF'
` + answer + `
EOF
`
}

func TestListLabelWithCommaFilteredHere(t *testing.T) {
	dir := t.TempDir()
	r := newFake(t, podmanSplittingFilters(dir, psTwoContainers))
	ctx := context.Background()
	names := func(cs []ctrgate.Container) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	cs, err := r.List(ctx, ctrgate.ListFilter{Labels: map[string]string{"team": "a,b", "app": "x"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"comma"}, names(cs))
	seen, err := os.ReadFile(filepath.Join(dir, "filters"))
	require.NoError(t, err)
	assert.Equal(t, "label=app=x\n", string(seen), "the label without a comma is still filtered by podman")

	cs, err = r.List(ctx, ctrgate.ListFilter{Labels: map[string]string{"team": `say "hi"`}})
	require.NoError(t, err)
	assert.Equal(t, []string{"quote"}, names(cs))

	cs, err = r.List(ctx, ctrgate.ListFilter{Labels: map[string]string{"team": "a"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"plain"}, names(cs))

	cs, err = r.List(ctx, ctrgate.ListFilter{Labels: map[string]string{"team": "b,a"}})
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func TestListImagesLabelWithQuoteFilteredHere(t *testing.T) {
	dir := t.TempDir()
	r := newFake(t, podmanSplittingFilters(dir, `[
 {"Id":"`+fakeID+`","Names":["localhost/q:1"],"Labels":{"team":"say \"hi\"","app":"x"}},
 {"Id":"`+fakeID[1:]+`0","Names":["localhost/p:1"],"Labels":{"team":"a","app":"x"}},
 {"Id":"`+fakeID[2:]+`00","Names":["localhost/c:1"],"Labels":{"team":"a,b","app":"x"}}
]`))
	ctx := context.Background()
	refs := func(imgs []ctrgate.Image) []string {
		var out []string
		for _, im := range imgs {
			out = append(out, im.Refs...)
		}
		return out
	}
	imgs, err := r.ListImages(ctx, ctrgate.ImageFilter{Labels: map[string]string{"team": `say "hi"`, "app": "x"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"localhost/q:1"}, refs(imgs))
	seen, err := os.ReadFile(filepath.Join(dir, "filters"))
	require.NoError(t, err)
	assert.Equal(t, "label=app=x\n", string(seen), "the plain label is still filtered by podman")
	imgs, err = r.ListImages(ctx, ctrgate.ImageFilter{Labels: map[string]string{"team": "a,b"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"localhost/c:1"}, refs(imgs))
}

func TestListArgsLeaveSplittableLabelsToTheBackend(t *testing.T) {
	args := listArgs(ctrgate.ListFilter{Labels: map[string]string{"a": "x,y", "b": "1", "c": `q"`, "d": "l\nm", "e,f": "", "g": ""}})
	assert.Equal(t, []string{"ps", "--format", "json", "--filter", "label=b=1", "--filter", "label=g"}, args)
}

func TestFaultErrorsAreNotSentinelsByAccident(t *testing.T) {
	// A garbage create output is no sentinel's case: not "not found", not
	// "already exists", not the engine being away.
	r := newFake(t, "echo garbage\n")
	_, err := r.Create(context.Background(), createSpec)
	require.Error(t, err)
	for _, s := range []error{ctrgate.ErrNotFound, ctrgate.ErrAlreadyExists, ctrgate.ErrEngineUnavailable, ctrgate.ErrInvalidSpec} {
		assert.False(t, errors.Is(err, s), "%v", s)
	}
}
