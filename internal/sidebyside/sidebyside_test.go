//go:build ctrgate_bench

package sidebyside

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/conformance"
	"github.com/ctrgate/ctrgate/docker"
	"github.com/ctrgate/ctrgate/podmanapi"
	"github.com/ctrgate/ctrgate/podmancli"
)

const (
	testProg = conformance.TestProgPath
	image    = "localhost/ctrgate/testprog:sidebyside"
	tags     = "containers_image_openpgp,exclude_graphdriver_btrfs"
)

// subject is one backend with its raw counterpart.
type subject struct {
	name string
	rt   ctrgate.ContainerRuntime
	raw  raw
	// engineCLI is the engine's own CLI and its arguments, for the CLI
	// start-up comparison (`ps`), and the ctrgate --backend that matches.
	engineCLI []string
	// runRm is the engine CLI's one-shot lifecycle (`podman run --rm`),
	// compared with ctrgate's lifecycle too, or nil.
	runRm raw
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// subjects opens every backend whose engine the environment names
// (scripts/podman.sh env, scripts/docker.sh env).
func subjects(ctx context.Context, t *testing.T) []subject {
	var out []subject
	if os.Getenv("CONTAINERS_CONF") != "" {
		cfg, err := podmancli.ConfigFromMap(map[string]string{"remote": "false"}) // local, as the raw CLI
		require.NoError(t, err)
		rt, err := podmancli.New(cfg)
		require.NoError(t, err)
		out = append(out, subject{name: "podman-cli", rt: rt, raw: podmanCLI{}, engineCLI: []string{"podman", "ps"}, runRm: podmanCLI{}})
	} else {
		t.Log("podman-cli: CONTAINERS_CONF unset (scripts/podman.sh env): not measured")
	}
	if uri := os.Getenv(podmanapi.EnvSocket); uri != "" {
		rt, err := podmanapi.New(ctx, podmanapi.Config{URI: uri})
		require.NoError(t, err)
		b, err := newPodmanBindings(ctx, uri)
		require.NoError(t, err)
		out = append(out, subject{name: "podman-api", rt: rt, raw: b, engineCLI: []string{"podman", "--url", uri, "ps"}, runRm: podmanCLI{}})
	} else {
		t.Log("podman-api: " + podmanapi.EnvSocket + " unset: not measured")
	}
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		rt, err := docker.New(ctx, docker.Config{Host: host})
		require.NoError(t, err)
		d, err := newDockerClient(host)
		require.NoError(t, err)
		out = append(out, subject{name: "docker", rt: rt, raw: d, engineCLI: []string{"docker", "ps"}})
	} else {
		t.Log("docker: DOCKER_HOST unset: not measured")
	}
	return out
}

// TestSideBySide measures every operation of every backend beside its raw
// counterpart (CTRGATE_BENCH_N iterations, default 20; four times as many
// for Inspect and Exec) and prints the table; CTRGATE_BENCH_TABLE names a
// file to write it to as well.
func TestSideBySide(t *testing.T) {
	n := envInt("CTRGATE_BENCH_N", 20)
	// the per-operation rows (Inspect, Exec) are short and their ratios
	// close to 1: more pairs, for a median that noise moves less
	nOps := 4 * n
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	tarball := conformance.TestImageTar(t)
	ctgBin := filepath.Join(t.TempDir(), "ctrgate")
	build := exec.Command("go", "build", "-tags", tags, "-o", ctgBin, "../../cmd/ctrgate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the CLI: %s", out)

	var rows []row
	add := func(r row, err error) {
		require.NoError(t, err, "%s %s", r.backend, r.op)
		rows = append(rows, r)
		t.Logf("%s %s: done (%d pairs)", r.backend, r.op, len(r.pairs))
	}
	for _, s := range subjects(ctx, t) {
		t.Cleanup(func() { _ = s.rt.Close() })
		require.NoError(t, s.rt.ImportImage(ctx, image, bytes.NewReader(tarball), ctrgate.ImportOptions{Entrypoint: []string{testProg}}))
		prefix := "ctg-sbs-" + randHex(3) + "-"
		// removeLeft removes this subject's containers when its rows end, so
		// that the next subject on the same engine (podman-api after
		// podman-cli) starts without them; at the test's end too, should a
		// row fail
		removeLeft := func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer ccancel()
			left, err := s.rt.List(cctx, ctrgate.ListFilter{NamePrefix: prefix, All: true})
			if err == nil {
				var names []string
				for _, c := range left {
					names = append(names, c.Name)
				}
				err = ctrgate.FirstError(ctrgate.RemoveAll(cctx, s.rt, names))
			}
			if err != nil {
				t.Errorf("%s: removing the containers of %s*: %v", s.name, prefix, err)
			}
		}
		t.Cleanup(removeLeft)
		spec := func(name string, args ...string) ctrgate.ContainerSpec {
			return ctrgate.ContainerSpec{Name: name, Image: image, PullPolicy: ctrgate.PullNever, Command: args}
		}
		sleeper := prefix + "sleeper"
		_, err := ctrgate.Run(ctx, s.rt, spec(sleeper, "sleep", "3600s"))
		require.NoError(t, err)

		// the CLI's start-up: the same `ps` of ctrgate and of the engine's
		// CLI, first with this run's one container, and again at the end
		// with every container the rows left (the engine CLI's `ps` then
		// takes longer, and a start-up counts for less)
		cliPS := func(when string) (row, error) {
			r := row{backend: s.name, op: "CLI start-up: `ps`, " + when, raw: s.engineCLI[0] + " ps"}
			var err error
			r.pairs, err = interleave(n, timed(func() error {
				cmd := exec.CommandContext(ctx, ctgBin, "--backend", s.name, "ps")
				cmd.Env = append(localEnv(), podmancli.EnvRemote+"=false")
				return cmd.Run()
			}), timed(func() error {
				cmd := exec.CommandContext(ctx, s.engineCLI[0], s.engineCLI[1:]...)
				cmd.Env = localEnv()
				return cmd.Run()
			}))
			return r, err
		}
		add(cliPS("1 container of this run"))

		r := row{backend: s.name, op: "Inspect", raw: s.raw.what()}
		r.pairs, err = interleave(nOps, timed(func() error { _, err := s.rt.Inspect(ctx, sleeper); return err }),
			timed(func() error { return s.raw.inspect(ctx, sleeper) }))
		add(r, err)

		// StatesByPrefix over 100 containers, and over CTRGATE_BENCH_SCALE
		// (e.g. 1000) when set: the time and the memory a call allocates
		// grow with the result; each is one engine round trip (one List).
		sizes := []int{100}
		if sc := envInt("CTRGATE_BENCH_SCALE", 0); sc > 100 {
			sizes = append(sizes, sc)
		}
		made := 0
		listPrefix := prefix + "list-"
		for _, many := range sizes {
			for ; made < many; made++ {
				_, err := s.rt.Create(ctx, spec(listPrefix+strconv.Itoa(made), "exit", "0"))
				require.NoError(t, err)
			}
			var allocs []uint64
			r := row{backend: s.name, op: fmt.Sprintf("StatesByPrefix, %d containers", many), raw: s.raw.what() + " list"}
			r.pairs, err = interleave(n, timed(func() error {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				st, err := ctrgate.StatesByPrefix(ctx, s.rt, listPrefix)
				runtime.ReadMemStats(&after)
				allocs = append(allocs, after.TotalAlloc-before.TotalAlloc)
				if err == nil && len(st) != many {
					err = fmt.Errorf("%d states, want %d", len(st), many)
				}
				return err
			}), timed(func() error {
				k, err := s.raw.list(ctx, listPrefix)
				if err == nil && k != many {
					err = fmt.Errorf("%d containers, want %d", k, many)
				}
				return err
			}))
			slices.Sort(allocs)
			if len(allocs) > 0 {
				r.note = fmt.Sprintf("ctrgate allocates %d KB per call", allocs[len(allocs)/2]/1024)
			}
			add(r, err)
		}

		r = row{backend: s.name, op: "Exec `echo x`", raw: s.raw.what()}
		r.pairs, err = interleave(nOps, timed(func() error {
			res, err := s.rt.Exec(ctx, sleeper, ctrgate.ExecOptions{Cmd: []string{testProg, "echo", "x"}})
			if err == nil && string(res.Stdout) != "x\n" {
				err = fmt.Errorf("exec: %q", res.Stdout)
			}
			return err
		}), timed(func() error { return s.raw.exec(ctx, sleeper) }))
		add(r, err)

		i := 0
		next := func(what string) string { i++; return prefix + what + "-" + strconv.Itoa(i) }
		ctgLifecycle := timed(func() error {
			name := next("life")
			if _, err := ctrgate.Run(ctx, s.rt, spec(name, "exit", "0")); err != nil {
				return err
			}
			if _, err := s.rt.Wait(ctx, name); err != nil {
				return err
			}
			return s.rt.Remove(ctx, name, ctrgate.RemoveOptions{Force: true})
		})
		r = row{backend: s.name, op: "lifecycle of `exit 0` (run, wait, remove)", raw: s.raw.what()}
		r.pairs, err = interleave(n, ctgLifecycle, timed(func() error { return s.raw.lifecycle(ctx, image, next("rawlife")) }))
		add(r, err)
		if s.runRm != nil {
			runRm := timed(func() error { return s.runRm.lifecycle(ctx, image, next("runrm")) })
			if _, cli := s.raw.(podmanCLI); !cli { // the raw lifecycle is not `podman run --rm` already
				r = row{backend: s.name, op: "lifecycle of `exit 0`", raw: "podman run --rm"}
				r.pairs, err = interleave(n, ctgLifecycle, runRm)
				add(r, err)
			}
			// what `podman run --rm` does: removed on exit by the engine
			r = row{backend: s.name, op: "lifecycle of `exit 0` removed on exit (Run with AutoRemove, Wait)", raw: "podman run --rm"}
			r.pairs, err = interleave(n, timed(func() error {
				name := next("autorm")
				sp := spec(name, "exit", "0")
				sp.AutoRemove = true
				if _, err := ctrgate.Run(ctx, s.rt, sp); err != nil {
					return err
				}
				_, err := s.rt.Wait(ctx, name)
				return err
			}), runRm)
			add(r, err)
		}

		r = row{backend: s.name, op: "exit to Wait's return", raw: s.raw.what()}
		r.pairs, err = interleave(n, func() (time.Duration, error) {
			name := next("exit")
			defer s.rt.Remove(context.WithoutCancel(ctx), name, ctrgate.RemoveOptions{Force: true}) //nolint:errcheck
			if _, err := ctrgate.Run(ctx, s.rt, spec(name, "sleep", "300ms")); err != nil {
				return 0, err
			}
			if _, err := s.rt.Wait(ctx, name); err != nil {
				return 0, err
			}
			returned := time.Now()
			c, err := s.rt.Inspect(ctx, name)
			if err != nil {
				return 0, err
			}
			return returned.Sub(c.State.FinishedAt), nil
		}, func() (time.Duration, error) { return s.raw.exitToWait(ctx, image, next("rawexit")) })
		add(r, err)

		add(cliPS(fmt.Sprintf("%d containers of this run", made+1)))
		removeLeft()
	}
	require.NotEmpty(t, rows, "no engine to measure: eval \"$(scripts/podman.sh env)\" and \"$(scripts/docker.sh env)\"")
	tab := table(rows)
	header := fmt.Sprintf("%d pairs per row, order alternating; %s/%s, %d CPUs; %s\n\n", n, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		time.Now().UTC().Format(time.RFC3339))
	t.Log("\n" + header + tab)
	if f := os.Getenv("CTRGATE_BENCH_TABLE"); f != "" {
		require.NoError(t, os.WriteFile(f, []byte(header+tab), 0o644))
	}
}
