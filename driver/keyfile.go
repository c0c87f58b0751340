package driver

import (
	"log/slog"
	"os"
)

// WarnLooseKeyFile logs a warning (slog's default logger) when the private
// key file at path can be read by users other than its owner, as OpenSSH
// refuses such keys: a client key or identity that others can read is a
// key others can use. The key itself is never read here or logged; a file
// that cannot be examined is not warned about (its use fails on its own).
// It reports whether it warned.
func WarnLooseKeyFile(backend, what, path string) bool {
	if path == "" {
		return false
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return false
	}
	slog.Warn("ctrgate: a private key file can be read by other users; chmod 600 it",
		"backend", backend, "key", what, "path", path, "mode", st.Mode().Perm().String())
	return true
}
