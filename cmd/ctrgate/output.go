package main

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/ctrgate/ctrgate/redact"
)

// secretSet holds the values that must never be printed. Values are added
// while a command is parsed (--secret-env, -e with a sensitive key) and read
// by every output path.
type secretSet struct {
	mu   sync.Mutex
	vals []string
}

// add records secret values (and the forms they take inside JSON strings).
func (s *secretSet) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		if len(v) < redact.MinSecretLen {
			continue
		}
		s.vals = append(s.vals, v)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			if q := strings.TrimSuffix(b.String(), "\n"); len(q) >= 2 {
				if inner := q[1 : len(q)-1]; inner != v {
					s.vals = append(s.vals, inner)
				}
			}
		}
	}
	sort.Slice(s.vals, func(i, j int) bool { return len(s.vals[i]) > len(s.vals[j]) })
}

// list returns a copy of the secret values, longest first.
func (s *secretSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.vals...)
}

// replace masks every known secret value in text (values only; no pattern
// matching, so structured output such as JSON keys is left intact).
func (s *secretSet) replace(text string) string {
	for _, v := range s.list() {
		text = strings.ReplaceAll(text, v, redact.Mask)
	}
	return text
}

// text masks known secret values and the values of KEY=VALUE pairs with
// sensitive keys (redact.Text). It is used on free text that comes from the
// engine or the container: log lines, exec output, error messages.
func (s *secretSet) text(text string) string {
	return redact.Text(text, s.list())
}

// redactWriter is the last stage of every output path: it buffers whole
// lines and masks the known secret values in them before they reach the
// real writer, so a secret split across two writes is masked too.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets *secretSet
	buf     []byte
}

// maxPending is how many bytes without a newline are held back before they
// are written anyway.
const maxPending = 64 << 10

func newRedactWriter(w io.Writer, s *secretSet) *redactWriter {
	return &redactWriter{w: w, secrets: s}
}

// Write implements io.Writer.
func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		if err := r.emit(r.buf[:i+1]); err != nil {
			r.buf = r.buf[i+1:]
			return len(p), err
		}
		r.buf = r.buf[i+1:]
	}
	if len(r.buf) > maxPending {
		err := r.emit(r.buf)
		r.buf = nil
		return len(p), err
	}
	return len(p), nil
}

func (r *redactWriter) emit(b []byte) error {
	_, err := io.WriteString(r.w, r.secrets.replace(string(b)))
	return err
}

// Flush writes a pending partial line.
func (r *redactWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	err := r.emit(r.buf)
	r.buf = nil
	return err
}

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of JSON (for streams: NDJSON).
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
