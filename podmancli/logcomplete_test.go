package podmancli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLineCounterRest(t *testing.T) {
	all := []byte("line 1\nline 2\nline 3\nlast")
	for _, tc := range []struct {
		name, got string
		want      string
	}{
		{"followed read stopped early", "line 1\nli", ""}, // a partial line pending: nothing, never twice
		{"followed read stopped after a line", "line 1\n", "line 2\nline 3\nlast"},
		{"followed read complete but the unterminated last line", "line 1\nline 2\nline 3\n", "last"},
		{"nothing delivered", "", "line 1\nline 2\nline 3\nlast"},
		{"another log", "line 9\n", ""},
		{"followed read complete", "line 1\nline 2\nline 3\nlast", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sink bytes.Buffer
			c := &lineCounter{w: &sink}
			for i := 0; i < len(tc.got); i += 3 { // in pieces, as a pipe delivers them
				_, _ = c.Write([]byte(tc.got[i:min(i+3, len(tc.got))]))
			}
			assert.Equal(t, tc.got, sink.String(), "passed on unchanged")
			assert.Equal(t, tc.want, string(c.rest(all)))
		})
	}
}
