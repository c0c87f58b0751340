package ctrgate_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/fake"
)

// newExampleRuntime returns a fake runtime with one image, example.com/job:1,
// whose program prints its arguments, says "ready", and then either exits
// with the code given as its second argument or, with "serve", runs until
// it is stopped.
func newExampleRuntime() *fake.Runtime {
	rt := fake.New()
	rt.RegisterProgram("/job", func(p *fake.Process) int {
		args := p.Args()[1:]
		fmt.Fprintln(p.Stdout(), "args:", args)
		fmt.Fprintln(p.Stdout(), "ready")
		if len(args) > 0 && args[0] == "serve" {
			select {
			case <-p.Signals(): // SIGTERM from Stop: graceful exit
				return 0
			case <-p.Done(): // killed
				return 137
			}
		}
		if len(args) > 1 && args[1] == "fail" {
			fmt.Fprintln(p.Stderr(), "failing on purpose")
			return 3
		}
		return 0
	})
	if err := rt.AddImage("example.com/job:1", fake.ImageConfig{Entrypoint: []string{"/job"}}); err != nil {
		panic(err)
	}
	return rt
}

// Run creates and starts a container in one call; the code works unchanged
// on any backend.
func ExampleRun() {
	ctx := context.Background()
	rt := newExampleRuntime() // or backend.Open(ctx, backend.Config{Backend: "podman-cli"})
	defer rt.Close()

	id, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{
		Name:    "job-1",
		Image:   "example.com/job:1",
		Command: []string{"once", "fail"},
		Labels:  map[string]string{"team": "a"},
	})
	if err != nil {
		fmt.Println("run:", err)
		return
	}
	code, err := rt.Wait(ctx, id)
	fmt.Println("exit code:", code, err) // a non-zero exit code is not an error

	// Invalid input is rejected before any engine call.
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "-rm", Image: "example.com/job:1"})
	fmt.Println(errors.Is(err, ctrgate.ErrInvalidSpec), err)

	// A taken name is ErrAlreadyExists on every backend.
	_, err = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "job-1", Image: "example.com/job:1"})
	fmt.Println(errors.Is(err, ctrgate.ErrAlreadyExists))
	// Output:
	// exit code: 3 <nil>
	// true invalid spec: Name: "-rm" must not begin with '-'
	// true
}

// WaitReady follows a container's logs until a readiness line appears, and
// reports an early exit with its exit code.
func ExampleWaitReady() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt := newExampleRuntime()
	defer rt.Close()

	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "svc", Image: "example.com/job:1", Command: []string{"serve"}}); err != nil {
		fmt.Println(err)
		return
	}
	line, err := ctrgate.WaitReady(ctx, rt, "svc", ctrgate.MatchSubstring("ready"))
	fmt.Println(line.Stream, line.Text, err)
	if err := rt.Stop(ctx, "svc", 5*time.Second); err != nil {
		fmt.Println(err)
	}

	// A container that exits before the marker shows up.
	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "crash", Image: "example.com/job:1", Command: []string{"once", "fail"}}); err != nil {
		fmt.Println(err)
		return
	}
	_, err = ctrgate.WaitReady(ctx, rt, "crash", ctrgate.MatchSubstring("listening on"))
	var exited *ctrgate.ExitedError
	if errors.As(err, &exited) {
		fmt.Println("exited early with code", exited.ExitCode, errors.Is(err, ctrgate.ErrNotRunning))
	}
	// Output:
	// stdout ready <nil>
	// exited early with code 3 true
}

// StatesByPrefix answers "what state is each of my containers in" with one
// engine round trip; the prefix is literal.
func ExampleStatesByPrefix() {
	ctx := context.Background()
	rt := newExampleRuntime()
	defer rt.Close()

	for _, c := range []struct {
		name string
		cmd  []string
	}{
		{"batch.1", []string{"serve"}},
		{"batch.2", []string{"once", "fail"}},
		{"batchX3", []string{"serve"}}, // "." in the prefix is not a wildcard
	} {
		if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: c.name, Image: "example.com/job:1", Command: c.cmd}); err != nil {
			fmt.Println(err)
			return
		}
	}
	if _, err := rt.Wait(ctx, "batch.2"); err != nil {
		fmt.Println(err)
		return
	}

	states, err := ctrgate.StatesByPrefix(ctx, rt, "batch.")
	if err != nil {
		fmt.Println(err) // a failed query is an error, never "no containers"
		return
	}
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n, states[n].Status, states[n].ExitCode)
	}

	res := ctrgate.RemoveAll(ctx, rt, []string{"batch.1", "batch.2", "batchX3", "never-existed"})
	fmt.Println("remove:", ctrgate.FirstError(res))
	states, _ = ctrgate.StatesByPrefix(ctx, rt, "batch")
	fmt.Println("left:", len(states))
	// Output:
	// batch.1 running 0
	// batch.2 exited 3
	// remove: <nil>
	// left: 0
}

// Every runtime a user holds is the contract layer over a driver (the
// fake's too): bad input never reaches the driver, and every error names
// the method and the backend.
func ExampleEnforce() {
	fk := newExampleRuntime()
	rt := ctrgate.Enforce(fake.BackendName, fk) // the fake's own layer
	defer rt.Close()

	_, err := rt.Inspect(context.Background(), "--all")
	fmt.Println("invalid:", errors.Is(err, ctrgate.ErrInvalidSpec), "driver calls:", len(fk.Calls()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = rt.Wait(ctx, "no-such-container-yet")
	var ee *ctrgate.EngineError
	fmt.Println(errors.As(err, &ee), ee.Op, ee.Backend)
	// Output:
	// invalid: true driver calls: 0
	// true Wait fake
}

// One program drives engines on two hosts at once: a runtime per host
// (here two fakes; in production backend.Open with each host's address,
// e.g. podman-api on ssh://deploy@host-a/run/podman/podman.sock or docker
// on tcp://host-b:2376 with TLS), containers spread over both, and their
// states gathered from both. Nothing is shared between the runtimes: a host
// that fails fails only its own calls.
func ExampleStatesByPrefix_twoHosts() {
	ctx := context.Background()
	hosts := []struct {
		name string
		rt   ctrgate.ContainerRuntime
	}{{"host-a", newExampleRuntime()}, {"host-b", newExampleRuntime()}}
	for _, h := range hosts {
		defer h.rt.Close()
	}

	// four jobs, round robin over the hosts; the last one fails
	for i := range 4 {
		h := hosts[i%len(hosts)]
		cmd := []string{"once"}
		if i == 3 {
			cmd = append(cmd, "fail")
		}
		if _, err := ctrgate.Run(ctx, h.rt, ctrgate.ContainerSpec{Name: fmt.Sprintf("job-%d", i), Image: "example.com/job:1",
			Command: cmd}); err != nil {
			fmt.Println(h.name, err)
			return
		}
	}
	// every host's states, each host asked once
	var lines []string
	for _, h := range hosts {
		states, err := ctrgate.StatesByPrefix(ctx, h.rt, "job-")
		if err != nil {
			fmt.Println(h.name, err) // that host is down: the others still answer
			continue
		}
		for name := range states {
			code, err := h.rt.Wait(ctx, name)
			lines = append(lines, fmt.Sprintln(h.name, name, "exit", code, err))
		}
		fmt.Println(h.name, "removed:", ctrgate.FirstError(ctrgate.RemoveAll(ctx, h.rt, []string{"job-0", "job-1", "job-2", "job-3"})))
	}
	sort.Strings(lines)
	fmt.Print(strings.Join(lines, ""))
	// Output:
	// host-a removed: <nil>
	// host-b removed: <nil>
	// host-a job-0 exit 0 <nil>
	// host-a job-2 exit 0 <nil>
	// host-b job-1 exit 0 <nil>
	// host-b job-3 exit 3 <nil>
}
