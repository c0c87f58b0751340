package podmancli

import (
	"bytes"
	"context"
	"io"
	"slices"
)

// Podman 5 (seen with 5.4.2, k8s-file) may end `podman logs --follow` of a
// container that exits while a large log is being followed before the end of
// the log: a followed 5000-line log stopped after 3070 lines under load (the
// log file itself is complete; podman issue 21914 describes the same). A
// followed stream that ends without error is therefore completed from one
// plain `podman logs` read: the lines past those already delivered are
// delivered then, per stream. Not with --tail (a plain read counts its tail
// from the end, the followed one from the start).

// lineCounter passes writes on to w and counts the complete lines, keeping
// the last one and whether an unterminated line is pending.
type lineCounter struct {
	w       io.Writer
	lines   int
	last    []byte // the last complete line (without "\n")
	partial []byte // bytes after the last "\n"
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.partial = append(c.partial, b...)
			break
		}
		c.last = append(append(c.last[:0], c.partial...), b[:i]...)
		c.partial = c.partial[:0]
		c.lines++
		b = b[i+1:]
	}
	return n, err
}

// rest returns what a complete read of a stream (all) holds past the part
// c has passed on: the lines after c.lines, when c's last line is all's line
// c.lines and c has no pending partial line; nil otherwise.
func (c *lineCounter) rest(all []byte) []byte {
	if len(c.partial) > 0 {
		return nil
	}
	off := 0
	for i := 0; i < c.lines; i++ {
		j := bytes.IndexByte(all[off:], '\n')
		if j < 0 {
			return nil
		}
		if i == c.lines-1 && !bytes.Equal(all[off:off+j], c.last) {
			return nil // not the same log: deliver nothing twice
		}
		off += j + 1
	}
	return all[off:]
}

// completeFollowed reads the log once more without --follow and writes what
// the followed read (counted by out and errw) missed.
func (r *Runtime) completeFollowed(ctx context.Context, args []string, out, errw *lineCounter) {
	if !slices.Contains(args, "--follow") || slices.Contains(args, "--tail") {
		return
	}
	plain := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--follow" })
	cmd := r.command(ctx, plain, nil)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if cmd.Run() != nil {
		return
	}
	if b := out.rest(so.Bytes()); len(b) > 0 {
		_, _ = out.Write(b)
	}
	if b := errw.rest(se.Bytes()); len(b) > 0 {
		_, _ = errw.Write(b)
	}
}
