package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ctrgate/ctrgate"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestJSONSchemaGolden pins the --json field names documented in doc.go:
// every output type, rendered from fixed values, must match its golden file.
func TestJSONSchemaGolden(t *testing.T) {
	sec := &secretSet{}
	sec.add("hunter2-secret")
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	exists := true
	c := ctrgate.Container{
		ID: "0123456789abcdef", Name: "web", Image: "testimage", ImageID: "sha256:abc", Created: ts,
		State: ctrgate.ContainerState{Status: ctrgate.StateExited, Raw: "exited", ExitCode: 3, Pid: 0,
			StartedAt: ts, FinishedAt: ts.Add(time.Second), Error: "failed with TOKEN=hunter2-secret"},
		Labels: map[string]string{"app": "demo", "api_token": "xyz"},
		Ports:  []ctrgate.PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80}, {ContainerPort: 53, Protocol: "udp"}},
	}
	cases := map[string]any{
		"info": toJSONInfo(&ctrgate.EngineInfo{Backend: "podman-cli", Engine: "podman", Version: "4.3.1", APIVersion: "4.3.1",
			CgroupVersion: "v1", OCIRuntime: "runc"}),
		"container": toJSONContainer(c, sec),
		"ps_empty":  []jsonContainer{},
		"logline":   toJSONLogLine(ctrgate.LogLine{Stream: ctrgate.Stderr, Text: "hello hunter2-secret", Time: ts}, sec),
		"run": jsonRun{ID: "0123456789abcdef", Name: "web", Image: "testimage", Ready: true, ReadyLine: "READY",
			ReadyAfterMS: 512, Attached: true, Exited: true, ExitCode: 0, Removed: true},
		"wait":   []jsonWait{{Name: "web", ExitCode: 143}},
		"exec":   jsonExec{ExitCode: 1, Stdout: "out\n", Stderr: "err\n"},
		"result": []jsonResult{{Name: "web", OK: true, Result: "removed"}, {Name: "db", OK: false, Result: "not_found", Error: "no such container"}},
		"image":  jsonImage{Ref: "testimage", Exists: &exists},
		"event": toJSONEvent(ctrgate.Event{Type: ctrgate.EventDie, Raw: "died", ID: "0123456789abcdef", Name: "web",
			Image: "testimage", ExitCode: 0, Labels: map[string]string{"app": "demo"}, Time: ts}),
		"pull": jsonImage{Ref: "testimage", Pulled: true, Policy: "always", ElapsedMS: 42},
		"images": []jsonImageEntry{toJSONImageEntry(ctrgate.Image{ID: "55e641767b45a29835410498a9b0a9c1dea4c0e5fac6e438e22a959a4945ee34",
			Refs: []string{"localhost/app:1", "localhost/app:latest"}, Size: 11378, Created: ts,
			Labels: map[string]string{"tier": "front", "api_token": "hunter2-secret"}})},
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, writeJSON(&buf, v))
			path := filepath.Join("testdata", name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestJSONSchemaGolden -update to create it")
			assert.Equal(t, string(want), buf.String())
			assert.NotContains(t, buf.String(), "hunter2-secret")
		})
	}
}
