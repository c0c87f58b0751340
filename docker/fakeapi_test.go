package docker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeAPI is a scripted Docker Engine API on an httptest server: handlers
// by "METHOD /path" (the "/v1.xx" prefix removed), every request recorded.
type fakeAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	requests []*http.Request
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, handlers: map[string]http.HandlerFunc{}}
	f.handle("GET /_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		_, _ = w.Write([]byte("OK"))
	})
	f.handle("HEAD /_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
	})
	f.handle("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"Version": "20.10.24", "ApiVersion": "1.41",
			"Components": []map[string]any{{"Name": "Engine", "Version": "20.10.24"}}})
	})
	f.handle("GET /info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"DefaultRuntime": "runc", "CgroupVersion": "2",
			"SecurityOptions": []string{"name=seccomp,profile=default", "name=rootless"}})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[route] = h
}

// fail makes route answer with an engine error.
func (f *fakeAPI) fail(route string, status int, msg string) {
	f.handle(route, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, map[string]string{"message": msg})
	})
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/v1.") {
		if i := strings.Index(path[1:], "/"); i >= 0 {
			path = path[i+1:]
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	h := f.handlers[r.Method+" "+path]
	f.mu.Unlock()
	if h == nil {
		writeJSON(w, 404, map[string]string{"message": "page not found: " + r.Method + " " + path})
		return
	}
	h(w, r)
}

// last returns the last request whose path ends with suffix.
func (f *fakeAPI) last(suffix string) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if strings.HasSuffix(f.requests[i].URL.Path, suffix) {
			return f.requests[i]
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// runtime connects a Runtime to the fake.
func (f *fakeAPI) runtime() *Runtime {
	f.t.Helper()
	rt, err := NewDriver(context.Background(), Config{Host: "tcp://" + strings.TrimPrefix(f.srv.URL, "http://")})
	require.NoError(f.t, err)
	f.t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// paths returns the paths of the requests made so far, version prefix
// removed.
func (f *fakeAPI) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.requests {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1.") {
			if i := strings.Index(p[1:], "/"); i >= 0 {
				p = p[i+1:]
			}
		}
		out = append(out, r.Method+" "+p)
	}
	return out
}
