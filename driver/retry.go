package driver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
)

// RetryImageListing calls list until it does not fail with
// ErrImageNotFound, at most 8 times with a growing pause (25 ms doubling,
// about 3 s in all), and returns its last result. Podman (and its
// Docker-compatible API) fails a whole image listing with "image not known"
// when another client removes an image while the list is being built; a
// listing has no target image, so that error only ever means this race.
// Other errors and ctx's end return at once.
func RetryImageListing[T any](ctx context.Context, list func() (T, error)) (T, error) {
	var v T
	var err error
	pause := 25 * time.Millisecond
	for attempt := 0; ; attempt++ {
		v, err = list()
		if err == nil || !isImageListingRace(err) || ctx.Err() != nil || attempt == 7 {
			return v, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		pause *= 2
	}
}

// imageListingRaceWords are what Podman says when an image vanishes while
// it lists images: the image's record is read, its files are gone.
var imageListingRaceWords = []string{"image not known", "locating item named", "retrieving parent of image"}

// isImageListingRace reports whether a failed listing met an image removed
// meanwhile.
func isImageListingRace(err error) bool {
	if errors.Is(err, ctrgate.ErrImageNotFound) {
		return true
	}
	msg := err.Error()
	for _, w := range imageListingRaceWords {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// TransientWaitFor bounds how long RetryTransientWait waits again.
const TransientWaitFor = 3 * time.Second

// RetryTransientWait runs wait, one wait for a container's exit, and runs
// it again while it fails with Podman's transient "read /proc/<pid>/cgroup:
// no such process" (the container exiting at that very moment; its libpod
// and Docker-compatible APIs both answer so, more often under load), for
// up to TransientWaitFor, pausing 50 ms, doubling up to 400 ms. Success,
// other errors and the error once ctx is done are returned as they are.
func RetryTransientWait(ctx context.Context, wait func() (int, error)) (int, error) {
	until := time.Now().Add(TransientWaitFor)
	pause := 50 * time.Millisecond
	for {
		code, err := wait()
		if err == nil || ctx.Err() != nil || !time.Now().Before(until) || !isTransientWaitErr(err) {
			return code, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return code, err
		case <-t.C:
		}
		pause = min(2*pause, 400*time.Millisecond)
	}
}

// isTransientWaitErr reports whether err is Podman's transient wait
// failure (and not one that a sentinel already explains).
func isTransientWaitErr(err error) bool {
	for _, k := range []error{ctrgate.ErrNotFound, ctrgate.ErrEngineUnavailable, ctrgate.ErrInvalidSpec} {
		if errors.Is(err, k) {
			return false
		}
	}
	return strings.Contains(err.Error(), "no such process")
}

// RetryEmptyArchive opens a CopyFrom archive with open and, when it holds
// no entry at all, opens it again (at most 4 more times, pausing 50 ms,
// doubling): Podman answers a copy from a container that has just exited
// with an empty archive while its exit cleanup unmounts the container's
// root file system, and an existing path always archives at least itself.
// The same race can fail the copy instead ("mounting storage for
// container ...: no such file or directory", seen on rootless Podman 4.3;
// `changing to intended-new-root directory ".../merged"`, the storage
// unmounted under the copy): those errors are retried the same way. The returned stream starts at the
// archive's first byte; other errors of open are returned as they are.
func RetryEmptyArchive(ctx context.Context, open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	pause := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		rc, err := open()
		if err != nil {
			if !isCleanupRace(err) || attempt == 4 || ctx.Err() != nil {
				return nil, err
			}
			if serr := sleepCtx(ctx, pause); serr != nil {
				return nil, err
			}
			pause *= 2
			continue
		}
		br := bufio.NewReaderSize(rc, 1024)
		block, perr := br.Peek(512)
		empty := (len(block) == 0 && (perr == io.EOF || perr == io.ErrUnexpectedEOF)) ||
			(len(block) == 512 && bytes.Count(block, []byte{0}) == 512)
		if !empty || attempt == 4 || ctx.Err() != nil {
			return struct {
				io.Reader
				io.Closer
			}{br, rc}, nil
		}
		_ = rc.Close()
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause *= 2
	}
}

// isCleanupRace reports whether a copy failed because Podman's exit
// cleanup unmounted the container's storage under it.
func isCleanupRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "mounting storage for container") || strings.Contains(msg, "changing to intended-new-root directory")
}

// sleepCtx sleeps for d or until ctx ends (its error then).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
