// Package conmon reads what conmon, the monitor Podman starts beside each
// container, leaves on this machine: the exit file it writes in its exit
// directory (Podman's tmp_dir/exits) the moment the container's main
// process has ended, its output drained to the log.
//
// Podman itself learns of an exit only by reading that file, when it next
// looks (its wait polls) and after its cleanup process released the
// container's lock, 100–250 ms later. A Wait that watches the file
// (ExitWatcher) returns within a millisecond or two of the exit. It works
// only where the engine's files are on this machine; the exit directory is
// read from the command line of the conmon that monitors the container
// (ExitDirOf, FindExitDir), so that it is never guessed from a
// configuration that may not be the engine's.
package conmon

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procRoot is where the process table is read (a variable for tests).
var procRoot = "/proc"

// ExitDirOf opens the exit directory of the conmon process pid, if that
// process is a conmon monitoring container id (its -c or --cid argument),
// as that conmon sees it: through /proc/PID/root, so that an engine in a
// mount namespace of its own (a pivot_root'ed engine, whose tmp_dir is a
// tmpfs of that namespace) is read too. The directory stays reachable
// through the returned handle after conmon has ended. Where /proc/PID/root
// cannot be read (another user's process), the path as given is opened,
// when it is a directory.
func ExitDirOf(pid int, id string) (*os.File, bool) {
	if pid <= 0 || id == "" {
		return nil, false
	}
	proc := filepath.Join(procRoot, strconv.Itoa(pid))
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return nil, false
	}
	dir, ok := exitDirArg(cmdline, id)
	if !ok {
		return nil, false
	}
	for _, p := range []string{filepath.Join(proc, "root", dir), dir} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return f, true
		}
		f.Close()
	}
	return nil, false
}

// ExitDirOfParent is ExitDirOf for the parent of process pid: the conmon
// of a container whose main process is pid.
func ExitDirOfParent(pid int, id string) (*os.File, bool) {
	if pid <= 0 {
		return nil, false
	}
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses
	_, rest, ok := bytes.Cut(stat, []byte(") "))
	for ok {
		var more []byte
		if _, more, ok = bytes.Cut(rest, []byte(") ")); ok {
			rest = more
		}
	}
	fields := strings.Fields(string(rest))
	if len(fields) < 2 {
		return nil, false
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return nil, false
	}
	return ExitDirOf(ppid, id)
}

// FindExitDir looks through the process table for the conmon monitoring
// container id and opens its exit directory (see ExitDirOf). It finds
// nothing once the container has exited and its conmon has ended.
func FindExitDir(id string) (*os.File, bool) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "conmon" {
			continue
		}
		if dir, ok := ExitDirOf(pid, id); ok {
			return dir, true
		}
	}
	return nil, false
}

// exitDirArg returns the --exit-dir argument of a conmon command line
// (arguments separated by NUL bytes) if its container (-c, --cid) is id.
func exitDirArg(cmdline []byte, id string) (string, bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != "conmon" {
		return "", false
	}
	var cid, dir string
	for i := 1; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		if !inline {
			if i+1 >= len(args) {
				break
			}
			value = args[i+1]
		}
		switch name {
		case "-c", "--cid":
			cid = value
		case "--exit-dir":
			dir = value
		default:
			continue
		}
		if !inline {
			i++
		}
	}
	if cid != id || dir == "" || !filepath.IsAbs(dir) {
		return "", false
	}
	return dir, true
}

// ReadExitCode reads the exit code of container id from its exit file in
// dir (a path). ok is false when there is no complete file: none yet (the
// container runs, or never started), none any more (Podman's cleanup
// removed it), or one being written.
func ReadExitCode(dir, id string) (code int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, id))
	if err != nil {
		return 0, false
	}
	code, err = strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return 0, false
	}
	return code, true
}

// fdPath is the path of the open file f in this process's file table: the
// directory f names, wherever it is mounted (for inotify and for reading).
func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }
