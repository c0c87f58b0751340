package fake

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fsBackend is one file system a container path can land on: the
// container's in-memory root, an in-memory volume or tmpfs, or a host
// directory (bind mount). Paths given to it are clean, absolute and relative
// to its own root.
type fsBackend interface {
	ReadFile(p string) ([]byte, error)
	WriteFile(p string, data []byte, perm fs.FileMode) error
	MkdirAll(p string, perm fs.FileMode) error
	Symlink(target, p string) error
	Lstat(p string) (fs.FileInfo, error)
	Stat(p string) (fs.FileInfo, error)
	Readlink(p string) (string, error)
	ReadDir(p string) ([]string, error)
}

// node is one entry of a memFS. Data slices are never modified in place, so
// clones may share them.
type node struct {
	mode  fs.FileMode // type bits and permissions
	data  []byte
	link  string
	mtime time.Time
}

// memFS is an in-memory file system keyed by clean absolute path.
type memFS struct {
	mu    sync.Mutex
	nodes map[string]*node
}

func newMemFS() *memFS {
	return &memFS{nodes: map[string]*node{"/": {mode: fs.ModeDir | 0o755, mtime: time.Now()}}}
}

// reset empties the file system (a tmpfs at a new start).
func (m *memFS) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes = map[string]*node{"/": {mode: fs.ModeDir | 0o755, mtime: time.Now()}}
}

// clone returns a deep copy (file contents are shared copy-on-write).
func (m *memFS) clone() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &memFS{nodes: make(map[string]*node, len(m.nodes))}
	for p, n := range m.nodes {
		c := *n
		out.nodes[p] = &c
	}
	return out
}

type memInfo struct {
	name string
	n    node
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return int64(len(i.n.data)) }
func (i memInfo) Mode() fs.FileMode  { return i.n.mode }
func (i memInfo) ModTime() time.Time { return i.n.mtime }
func (i memInfo) IsDir() bool        { return i.n.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

func pathErr(op, p string, err error) error { return &fs.PathError{Op: op, Path: p, Err: err} }

// resolveLocked follows symlinks in every component of p (and in the last
// one when followLast). It returns the resolved path; the final entry may
// not exist.
func (m *memFS) resolveLocked(p string, followLast bool) (string, error) {
	hops := 0
	for {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		restarted := false
		for i, part := range parts {
			if part == "" {
				continue
			}
			next := path.Join(cur, part)
			n, ok := m.nodes[next]
			last := i == len(parts)-1
			if ok && n.mode&fs.ModeSymlink != 0 && (!last || followLast) {
				hops++
				if hops > 40 {
					return "", syscall.ELOOP
				}
				target := n.link
				if !path.IsAbs(target) {
					target = path.Join(cur, target)
				}
				p = path.Join(append([]string{target}, parts[i+1:]...)...)
				restarted = true
				break
			}
			if !ok && !last {
				return "", fs.ErrNotExist
			}
			if ok && !last && !n.mode.IsDir() {
				return "", syscall.ENOTDIR
			}
			cur = next
		}
		if !restarted {
			return cur, nil
		}
	}
}

func (m *memFS) ReadFile(p string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, true)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	n, ok := m.nodes[rp]
	if !ok {
		return nil, pathErr("open", p, fs.ErrNotExist)
	}
	if n.mode.IsDir() {
		return nil, pathErr("read", p, syscall.EISDIR)
	}
	return bytes.Clone(n.data), nil
}

func (m *memFS) parentDirLocked(op, p, rp string) error {
	parent, ok := m.nodes[path.Dir(rp)]
	if !ok {
		return pathErr(op, p, fs.ErrNotExist)
	}
	if !parent.mode.IsDir() {
		return pathErr(op, p, syscall.ENOTDIR)
	}
	return nil
}

func (m *memFS) WriteFile(p string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, true)
	if err != nil {
		return pathErr("open", p, err)
	}
	if n, ok := m.nodes[rp]; ok {
		if n.mode.IsDir() {
			return pathErr("open", p, syscall.EISDIR)
		}
		n.data = bytes.Clone(data)
		n.mtime = time.Now()
		return nil
	}
	if err := m.parentDirLocked("open", p, rp); err != nil {
		return err
	}
	m.nodes[rp] = &node{mode: perm.Perm(), data: bytes.Clone(data), mtime: time.Now()}
	return nil
}

// writeFileMode writes a file and sets its permission bits (tar
// extraction).
func (m *memFS) writeFileMode(p string, data []byte, perm fs.FileMode) error {
	if err := m.WriteFile(p, data, perm); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if rp, err := m.resolveLocked(p, true); err == nil {
		if n, ok := m.nodes[rp]; ok {
			n.mode = n.mode.Type() | perm&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		}
	}
	return nil
}

func (m *memFS) MkdirAll(p string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		rp, err := m.resolveLocked(next, true)
		if err != nil {
			return pathErr("mkdir", p, err)
		}
		if n, ok := m.nodes[rp]; ok {
			if !n.mode.IsDir() {
				return pathErr("mkdir", p, syscall.ENOTDIR)
			}
			cur = rp
			continue
		}
		m.nodes[rp] = &node{mode: fs.ModeDir | perm.Perm(), mtime: time.Now()}
		cur = rp
	}
	return nil
}

// setDirMode sets the permission bits of an existing directory.
func (m *memFS) setDirMode(p string, perm fs.FileMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[p]; ok && n.mode.IsDir() {
		n.mode = fs.ModeDir | perm
	}
}

func (m *memFS) Symlink(target, p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, false)
	if err != nil {
		return pathErr("symlink", p, err)
	}
	if err := m.parentDirLocked("symlink", p, rp); err != nil {
		return err
	}
	if n, ok := m.nodes[rp]; ok && n.mode.IsDir() {
		return pathErr("symlink", p, fs.ErrExist)
	}
	m.nodes[rp] = &node{mode: fs.ModeSymlink | 0o777, link: target, mtime: time.Now()}
	return nil
}

func (m *memFS) stat(op, p string, follow bool) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, follow)
	if err != nil {
		return nil, pathErr(op, p, err)
	}
	n, ok := m.nodes[rp]
	if !ok {
		return nil, pathErr(op, p, fs.ErrNotExist)
	}
	return memInfo{name: path.Base(p), n: *n}, nil
}

func (m *memFS) Lstat(p string) (fs.FileInfo, error) { return m.stat("lstat", p, false) }
func (m *memFS) Stat(p string) (fs.FileInfo, error)  { return m.stat("stat", p, true) }

func (m *memFS) Readlink(p string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, false)
	if err != nil {
		return "", pathErr("readlink", p, err)
	}
	n, ok := m.nodes[rp]
	if !ok || n.mode&fs.ModeSymlink == 0 {
		return "", pathErr("readlink", p, syscall.EINVAL)
	}
	return n.link, nil
}

func (m *memFS) ReadDir(p string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rp, err := m.resolveLocked(p, true)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	n, ok := m.nodes[rp]
	if !ok {
		return nil, pathErr("open", p, fs.ErrNotExist)
	}
	if !n.mode.IsDir() {
		return nil, pathErr("readdirent", p, syscall.ENOTDIR)
	}
	var out []string
	for q := range m.nodes {
		if q != "/" && path.Dir(q) == rp {
			out = append(out, path.Base(q))
		}
	}
	sort.Strings(out)
	return out, nil
}

// hostFS is a bind mount: paths map to real files under root (a directory
// or a single file).
type hostFS struct{ root string }

func (h hostFS) real(p string) string { return filepath.Join(h.root, filepath.FromSlash(p)) }

// fix replaces the host path in an error with the container-relative one,
// so messages do not reveal the host layout twice.
func (h hostFS) fix(err error, p string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: p, Err: pe.Err}
	}
	return err
}

func (h hostFS) ReadFile(p string) ([]byte, error) {
	b, err := os.ReadFile(h.real(p))
	return b, h.fix(err, p)
}

func (h hostFS) WriteFile(p string, data []byte, perm fs.FileMode) error {
	return h.fix(os.WriteFile(h.real(p), data, perm), p)
}

func (h hostFS) MkdirAll(p string, perm fs.FileMode) error {
	return h.fix(os.MkdirAll(h.real(p), perm), p)
}

func (h hostFS) Symlink(target, p string) error {
	_ = os.Remove(h.real(p))
	return h.fix(os.Symlink(target, h.real(p)), p)
}

func (h hostFS) Lstat(p string) (fs.FileInfo, error) {
	fi, err := os.Lstat(h.real(p))
	return fi, h.fix(err, p)
}

func (h hostFS) Stat(p string) (fs.FileInfo, error) {
	fi, err := os.Stat(h.real(p))
	return fi, h.fix(err, p)
}

func (h hostFS) Readlink(p string) (string, error) {
	s, err := os.Readlink(h.real(p))
	return s, h.fix(err, p)
}

func (h hostFS) ReadDir(p string) ([]string, error) {
	ents, err := os.ReadDir(h.real(p))
	if err != nil {
		return nil, h.fix(err, p)
	}
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out, nil
}

// mountEntry is one mount of a container.
type mountEntry struct {
	target string
	typ    string // "bind", "volume", "tmpfs"
	fsys   fsBackend
	ro     bool
	mem    *memFS // volume/tmpfs storage (nil for bind)
}

// view is a container's file system: the root plus its mounts.
type view struct {
	root       *memFS
	mounts     []*mountEntry
	readOnly   bool // read-only root file system
	forceWrite bool // CopyTo: the engine writes into the root even when read-only
}

// resolve finds the file system a clean absolute container path lives on.
func (v *view) resolve(p string) (fsBackend, string, *mountEntry) {
	var best *mountEntry
	for _, m := range v.mounts {
		if p == m.target || strings.HasPrefix(p, m.target+"/") {
			if best == nil || len(m.target) > len(best.target) {
				best = m
			}
		}
	}
	if best == nil {
		return v.root, p, nil
	}
	return best.fsys, path.Clean("/" + strings.TrimPrefix(p, best.target)), best
}

func (v *view) writable(op, p string) error {
	_, _, m := v.resolve(p)
	if m != nil && m.ro || m == nil && v.readOnly && !v.forceWrite {
		return pathErr(op, p, syscall.EROFS)
	}
	return nil
}

// withPath rewrites the path of a *fs.PathError to the container path.
func withPath(err error, p string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: p, Err: pe.Err}
	}
	return err
}

func (v *view) ReadFile(p string) ([]byte, error) {
	b, rel, _ := v.resolve(p)
	data, err := b.ReadFile(rel)
	return data, withPath(err, p)
}

func (v *view) WriteFile(p string, data []byte, perm fs.FileMode) error {
	if err := v.writable("open", p); err != nil {
		return err
	}
	b, rel, _ := v.resolve(p)
	if mf, ok := b.(*memFS); ok && v.forceWrite {
		return withPath(mf.writeFileMode(rel, data, perm), p)
	}
	return withPath(b.WriteFile(rel, data, perm), p)
}

func (v *view) MkdirAll(p string, perm fs.FileMode) error {
	if fi, err := v.Stat(p); err == nil && fi.IsDir() {
		return nil
	}
	if p != "/" {
		if err := v.MkdirAll(path.Dir(p), perm); err != nil {
			return err
		}
	}
	if err := v.writable("mkdir", p); err != nil {
		return err
	}
	b, rel, _ := v.resolve(p)
	return withPath(b.MkdirAll(rel, perm), p)
}

func (v *view) Symlink(target, p string) error {
	if err := v.writable("symlink", p); err != nil {
		return err
	}
	b, rel, _ := v.resolve(p)
	return withPath(b.Symlink(target, rel), p)
}

func (v *view) Lstat(p string) (fs.FileInfo, error) {
	b, rel, _ := v.resolve(p)
	fi, err := b.Lstat(rel)
	return fi, withPath(err, p)
}

func (v *view) Stat(p string) (fs.FileInfo, error) {
	b, rel, _ := v.resolve(p)
	fi, err := b.Stat(rel)
	return fi, withPath(err, p)
}

// ReadDir lists a directory, including the mount points directly below it.
func (v *view) ReadDir(p string) ([]string, error) {
	b, rel, _ := v.resolve(p)
	names, err := b.ReadDir(rel)
	if err != nil {
		return nil, withPath(err, p)
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, m := range v.mounts {
		if m.target != "/" && path.Dir(m.target) == p && !seen[path.Base(m.target)] {
			names = append(names, path.Base(m.target))
			seen[path.Base(m.target)] = true
		}
	}
	sort.Strings(names)
	return names, nil
}

func (v *view) Readlink(p string) (string, error) {
	b, rel, _ := v.resolve(p)
	s, err := b.Readlink(rel)
	return s, withPath(err, p)
}

// cleanAbs turns a container path into a clean absolute one, relative
// paths being taken from base.
func cleanAbs(base, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	if base == "" {
		base = "/"
	}
	return path.Join(base, p)
}

// maybeGunzip returns a reader that decompresses r when it starts with the
// gzip magic bytes.
func maybeGunzip(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// extractTar unpacks a tar stream into dst of v. It reads the whole stream
// (also past the end-of-archive marker) so a writer on the other end of a
// pipe never blocks.
func extractTar(v *view, dst string, r io.Reader) (err error) {
	defer func() { _, _ = io.Copy(io.Discard, r) }()
	in, done, err := maybeGunzip(r)
	if err != nil {
		return err
	}
	defer done()
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar stream: %w", err)
		}
		name := path.Clean("/" + hdr.Name)
		target := path.Join(dst, name)
		perm := fs.FileMode(hdr.Mode) & fs.ModePerm
		if hdr.Mode&0o1000 != 0 {
			perm |= fs.ModeSticky
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := v.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if b, rel, _ := v.resolve(target); b != nil {
				if mf, ok := b.(*memFS); ok {
					mf.setDirMode(rel, perm)
				}
			}
		case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
			if err := v.MkdirAll(path.Dir(target), 0o755); err != nil {
				return err
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("reading tar stream: %w", err)
			}
			if err := v.WriteFile(target, data, perm); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := v.MkdirAll(path.Dir(target), 0o755); err != nil {
				return err
			}
			if err := v.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			data, err := v.ReadFile(path.Join(dst, path.Clean("/"+hdr.Linkname)))
			if err != nil {
				return err
			}
			if err := v.MkdirAll(path.Dir(target), 0o755); err != nil {
				return err
			}
			if err := v.WriteFile(target, data, perm); err != nil {
				return err
			}
		default:
			// devices, fifos and the like have no meaning in memory
		}
	}
}

// writeTar writes the tree at container path p to tw under name.
func writeTar(v *view, tw *tar.Writer, p, name string) error {
	fi, err := v.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = v.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	if fi.IsDir() {
		hdr.Name = strings.TrimSuffix(name, "/") + "/"
	}
	if !fi.Mode().IsRegular() {
		hdr.Size = 0
	}
	var data []byte
	if fi.Mode().IsRegular() {
		if data, err = v.ReadFile(p); err != nil {
			return err
		}
		hdr.Size = int64(len(data))
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if data != nil {
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if !fi.IsDir() {
		return nil
	}
	children, err := v.ReadDir(p)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := writeTar(v, tw, path.Join(p, c), path.Join(name, c)); err != nil {
			return err
		}
	}
	return nil
}

// size returns the bytes of all regular files (an image's size).
func (m *memFS) size() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, nd := range m.nodes {
		n += int64(len(nd.data))
	}
	return n
}
