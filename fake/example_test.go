package fake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/fake"
)

// A consumer registers the program its image would run, starts a
// container and waits for its readiness line, exactly as it would against
// Podman or Docker.
func ExampleRuntime() {
	ctx := context.Background()
	rt := fake.New()
	defer rt.Close()

	// The "binary" /app of the image: prints two lines, then runs until
	// SIGTERM (graceful exit 0) or until it is killed.
	rt.RegisterProgram("/app", func(p *fake.Process) int {
		fmt.Fprintln(p.Stdout(), "starting", p.Args()[1])
		fmt.Fprintln(p.Stdout(), "ready to serve")
		select {
		case <-p.Signals():
			fmt.Fprintln(p.Stdout(), "bye")
			return 0
		case <-p.Done():
			return 137
		}
	})
	if err := rt.AddImage("example.com/app:1", fake.ImageConfig{Entrypoint: []string{"/app"}, Cmd: []string{"--default"}}); err != nil {
		fmt.Println(err)
		return
	}

	if _, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "app", Image: "example.com/app:1", Command: []string{"--port=8080"}}); err != nil {
		fmt.Println(err)
		return
	}
	line, err := ctrgate.WaitReady(ctx, rt, "app", ctrgate.MatchSubstring("ready"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", line.Text)

	_ = rt.Stop(ctx, "app", 5*time.Second)
	code, _ := rt.Wait(ctx, "app")
	fmt.Println("exit code:", code)

	s, _ := rt.Logs(ctx, "app", ctrgate.LogOptions{})
	defer s.Close()
	for {
		l, err := s.Next()
		if err != nil {
			break
		}
		fmt.Println(l.Stream, l.Text)
	}
	// Output:
	// ready: ready to serve
	// exit code: 0
	// stdout starting --port=8080
	// stdout ready to serve
	// stdout bye
}

// A program can serve HTTP on a container port; the fake publishes it on a
// real host port.
func ExampleRuntime_ports() {
	ctx := context.Background()
	rt := fake.New()
	defer rt.Close()

	rt.RegisterProgram("/web", func(p *fake.Process) int {
		ln, err := p.Listen("tcp", ":80")
		if err != nil {
			fmt.Fprintln(p.Stderr(), err)
			return 1
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s", r.URL.Path)
		})}
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintln(p.Stdout(), "listening")
		select {
		case <-p.Signals():
		case <-p.Done():
		}
		_ = srv.Close()
		return 0
	})
	_ = rt.AddImage("example.com/web:1", fake.ImageConfig{Entrypoint: []string{"/web"}})
	_, err := ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "web", Image: "example.com/web:1",
		Ports: []ctrgate.PortMapping{{ContainerPort: 80}}}) // HostPort 0: any free port
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := ctrgate.WaitReady(ctx, rt, "web", ctrgate.MatchSubstring("listening")); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := rt.Inspect(ctx, "web")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(c.Ports[0].HostPort) + "/fake")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	_ = rt.Stop(ctx, "web", 5*time.Second)
	// Output:
	// 200 hello from /fake
}

// Error injection and the call log test a consumer's error handling.
func ExampleRuntime_InjectError() {
	ctx := context.Background()
	rt := fake.New()
	defer rt.Close()
	_ = rt.AddImage("example.com/app:1", fake.ImageConfig{Program: func(p *fake.Process) int { return 0 }})

	rt.InjectError("Create", ctrgate.ErrEngineUnavailable, 1) // only the next Create fails
	_, err := rt.Create(ctx, ctrgate.ContainerSpec{Name: "a", Image: "example.com/app:1"})
	fmt.Println(errors.Is(err, ctrgate.ErrEngineUnavailable))
	_, err = rt.Create(ctx, ctrgate.ContainerSpec{Name: "a", Image: "example.com/app:1"})
	fmt.Println(err)

	for _, c := range rt.Calls() {
		fmt.Println(c.Method, c.Target, c.Err != nil)
	}
	// Output:
	// true
	// <nil>
	// Create a true
	// Create a false
}

// ExitContainer and EmitLog drive a container from the test.
func ExampleRuntime_ExitContainer() {
	ctx := context.Background()
	rt := fake.New()
	defer rt.Close()
	_ = rt.AddImage("example.com/worker:1", fake.ImageConfig{Program: func(p *fake.Process) int {
		<-p.Done() // runs until ended from outside
		return 0
	}})
	_, _ = ctrgate.Run(ctx, rt, ctrgate.ContainerSpec{Name: "worker", Image: "example.com/worker:1"})

	_ = rt.EmitLog("worker", ctrgate.Stderr, "fatal: out of cheese")
	_ = rt.ExitContainer("worker", 3)

	code, _ := rt.Wait(ctx, "worker")
	fmt.Println("exit code:", code)
	_, err := ctrgate.WaitReady(ctx, rt, "worker", ctrgate.MatchSubstring("ready"))
	fmt.Println(err)
	// Output:
	// exit code: 3
	// container worker exited with code 3; last output: "fatal: out of cheese"
}
