package redact_test

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/ctrgate/ctrgate/redact"
)

const M = redact.Mask

func TestIsSensitiveKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"API_KEY", true},
		{"api_key", true},
		{"GITHUB_TOKEN", true},
		{"token", true},
		{"CLIENT_SECRET", true},
		{"DB_PASSWORD", true},
		{"Password", true},
		{"OPENAI_API_BASE", true},
		{"PRIVATE_KEY_PATH", true},
		{"SSH_PRIVATE", true},
		{"CODE_REPO", true},
		{"code_repo", true},
		{"CLONE_FROM", true},
		{"Clone_From", true},
		{"PATH", false},
		{"HOME", false},
		{"LANG", false},
		{"NVIDIA_VISIBLE_DEVICES", false},
		{"CODE_REPOSITORY_NAME", false},
		{"CLONE", false},
		{"", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, redact.IsSensitiveKey(tc.key), "IsSensitiveKey(%q)", tc.key)
	}
}

func TestEnvEntry(t *testing.T) {
	assert.Equal(t, "API_KEY="+M, redact.EnvEntry("API_KEY=abc"))
	assert.Equal(t, "API_KEY="+M, redact.EnvEntry("API_KEY="))
	assert.Equal(t, "PATH=/bin", redact.EnvEntry("PATH=/bin"))
	assert.Equal(t, "API_KEY", redact.EnvEntry("API_KEY"), "no value, nothing to mask")
	assert.Equal(t, "MY_VAR="+M, redact.EnvEntry("MY_VAR=x", "OTHER", "MY_VAR"))
	assert.Equal(t, "MY_VAR=x", redact.EnvEntry("MY_VAR=x", "my_var"), "extra keys match exactly")
	assert.Equal(t, "TOKEN="+M, redact.EnvEntry("TOKEN=a=b=c"), "value holding '='")
}

func TestArgs(t *testing.T) {
	tests := []struct {
		name  string
		in    []string
		extra []string
		want  []string
	}{
		{"-e K=V", []string{"run", "-e", "API_KEY=abc", "img"}, nil,
			[]string{"run", "-e", "API_KEY=" + M, "img"}},
		{"--env K=V", []string{"run", "--env", "GITHUB_TOKEN=ghp_x", "img"}, nil,
			[]string{"run", "--env", "GITHUB_TOKEN=" + M, "img"}},
		{"-e=K=V", []string{"-e=DB_PASSWORD=pw"}, nil, []string{"-e=DB_PASSWORD=" + M}},
		{"--env=K=V", []string{"--env=CLIENT_SECRET=s"}, nil, []string{"--env=CLIENT_SECRET=" + M}},
		{"-eK=V", []string{"-eAPI_KEY=abc"}, nil, []string{"-eAPI_KEY=" + M}},
		{"CODE_REPO always", []string{"-e", "CODE_REPO=https://user:tok@host/r.git"}, nil,
			[]string{"-e", "CODE_REPO=" + M}},
		{"CLONE_FROM always", []string{"--env=CLONE_FROM=https://x:y@h/r"}, nil,
			[]string{"--env=CLONE_FROM=" + M}},
		{"extra keys in every form",
			[]string{"-e", "MY_VAR=1", "--env", "MY_VAR=2", "-e=MY_VAR=3", "--env=MY_VAR=4", "-eMY_VAR=5", "-e", "OTHER=6"},
			[]string{"MY_VAR"},
			[]string{"-e", "MY_VAR=" + M, "--env", "MY_VAR=" + M, "-e=MY_VAR=" + M, "--env=MY_VAR=" + M, "-eMY_VAR=" + M, "-e", "OTHER=6"}},
		{"non-sensitive untouched",
			[]string{"run", "-e", "PATH=/bin", "--env=HOME=/root", "-eLANG=C", "--name", "web", "img", "sh", "-c", "echo API_KEY"}, nil,
			[]string{"run", "-e", "PATH=/bin", "--env=HOME=/root", "-eLANG=C", "--name", "web", "img", "sh", "-c", "echo API_KEY"}},
		{"trailing -e", []string{"run", "-e"}, nil, []string{"run", "-e"}},
		{"-e value without =", []string{"-e", "API_KEY", "img"}, nil, []string{"-e", "API_KEY", "img"}},
		{"value after -e is an entry, never a flag", []string{"-e", "-eAPI_KEY=x", "-e", "-ePATH=/bin"}, nil,
			[]string{"-e", "-eAPI_KEY=" + M, "-e", "-ePATH=/bin"}},
		{"other flags with e untouched", []string{"--entrypoint=TOKEN=x", "--expose", "80"}, nil,
			[]string{"--entrypoint=TOKEN=x", "--expose", "80"}},
		{"empty", []string{}, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.in)
			got := redact.Args(tc.in, tc.extra...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, orig, tc.in, "the input is not modified")
		})
	}
}

func TestTextKnownValues(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"single", "auth failed for hunter22", []string{"hunter22"}, "auth failed for " + M},
		{"every occurrence", "a hunter22 b hunter22", []string{"hunter22"}, "a " + M + " b " + M},
		{"longest first, overlap becomes one mask", "x abcdef y", []string{"abc", "abcdef"}, "x " + M + " y"},
		{"overlapping secrets", "x abcdef y", []string{"abcd", "cdef"}, "x " + M + " y"},
		{"adjacent secrets", "x abcdef y", []string{"abc", "def"}, "x " + M + " y"},
		{"too short secret ignored", "ab cd", []string{"ab"}, "ab cd"},
		{"empty secret ignored", "text", []string{""}, "text"},
		{"no secrets", "plain text", nil, "plain text"},
		{"secret inside a word", "prefixSECRETVALsuffix", []string{"SECRETVAL"}, "prefix" + M + "suffix"},
		{"secret that would reappear next to the mask", "]xyxy", []string{"]xy"}, M},
		{"secret that a mask would complete", "xabc", []string{"abc", "x[REDACTED]"}, M},
		{"multi-line", "line1 s3cr3t\nline2 s3cr3t", []string{"s3cr3t"}, "line1 " + M + "\nline2 " + M},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, redact.Text(tc.in, tc.secrets))
		})
	}
}

func TestTextPairs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"KEY=VALUE", "error: API_KEY=abc123 rejected", "error: API_KEY=" + M + " rejected"},
		{"lower-case key", "api_key=abc", "api_key=" + M},
		{"several pairs", "A=1 TOKEN=t B=2 PASSWORD=p", "A=1 TOKEN=" + M + " B=2 PASSWORD=" + M},
		{"value ends at comma", "TOKEN=abc, next", "TOKEN=" + M + ", next"},
		{"value ends at semicolon", "TOKEN=abc;next", "TOKEN=" + M + ";next"},
		{"double-quoted value with spaces", `PASSWORD="hunter2 x" ok`, `PASSWORD="` + M + `" ok`},
		{"single-quoted value", `TOKEN='xyz' ok`, `TOKEN='` + M + `' ok`},
		{"unterminated quote runs to end", `TOKEN="abc def`, `TOKEN="` + M},
		{"CODE_REPO in text", "clone CODE_REPO=https://u:p@h/r failed", "clone CODE_REPO=" + M + " failed"},
		{"JSON", `{"API_TOKEN": "abc def", "name": "web"}`, `{"API_TOKEN": "` + M + `", "name": "web"}`},
		{"JSON compact", `{"api_key":"abc","x":1}`, `{"api_key":"` + M + `","x":1}`},
		{"JSON spaced colon", `{"password" : "abc"}`, `{"password" : "` + M + `"}`},
		{"JSON escaped quote", `{"SECRET": "a\"b c"}`, `{"SECRET": "` + M + `"}`},
		// A bare value runs to white space, a quote, ',' or ';': the closing
		// brace goes with it (masking too much is safe, too little is not).
		{"JSON number", `{"api_key": 12345, "n": 1}`, `{"api_key": ` + M + `, "n": 1}`},
		{"JSON env array", `{"Env": ["API_KEY=abc", "PATH=/bin"]}`, `{"Env": ["API_KEY=` + M + `", "PATH=/bin"]}`},
		{"YAML-ish", "password: hunter2", "password: " + M},
		{"colon without space is not a pair", "image myapikey:latest", "image myapikey:latest"},
		{"nested flag form", "--env=API_KEY=abc", "--env=API_KEY=" + M},
		{"non-sensitive untouched", "PATH=/usr/bin HOME=/root", "PATH=/usr/bin HOME=/root"},
		{"already masked stays", "TOKEN=" + M, "TOKEN=" + M},
		{"podman GPU message untouched",
			"Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all",
			"Error: setting up CDI devices: unresolvable CDI devices nvidia.com/gpu=all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, redact.Text(tc.in, nil))
		})
	}
}

func TestTextBothKinds(t *testing.T) {
	got := redact.Text(`MY_VAR=opaque-value-1 TOKEN=other and opaque-value-1 again`, []string{"opaque-value-1"})
	assert.Equal(t, "MY_VAR="+M+" TOKEN="+M+" and "+M+" again", got)

	// A secret value with a space is masked whole, not only its first word.
	got = redact.Text("PASSWORD=hunter2 xyz", []string{"hunter2 xyz"})
	assert.Equal(t, "PASSWORD="+M, got)
}

func TestTextIdempotent(t *testing.T) {
	in := `API_KEY=abc {"token": "x y"} s3cr3tval`
	once := redact.Text(in, []string{"s3cr3tval"})
	assert.Equal(t, once, redact.Text(once, []string{"s3cr3tval"}))
}

// FuzzText checks that a planted secret of at least MinSecretLen bytes never
// survives Text, wherever it sits in arbitrary text. (A secret that is part
// of Mask itself cannot be told apart from Mask and is out of scope.)
func FuzzText(f *testing.F) {
	f.Add("error: ", "hunter22", " happened", "other")
	f.Add("API_KEY=", "abc", "", "")
	f.Add("]", "]xy", "xyxy", "")
	f.Add("x", "abc", "", "x[REDACTED]")
	f.Add(`{"TOKEN": "`, "a b c", `"}`, "b c")
	f.Add("--env=PASSWORD=", "pw pw", "pw", "wp")
	f.Add("", "D]a", "D]aD]a", "[RE")
	f.Add("TOKEN=\"", "ab\"cd", "\"", "")
	f.Fuzz(func(t *testing.T, prefix, secret, suffix, other string) {
		if len(secret) < redact.MinSecretLen || strings.Contains(redact.Mask, secret) {
			t.Skip()
		}
		in := prefix + secret + suffix + other + secret
		secrets := []string{secret, other}
		out := redact.Text(in, secrets)
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q survived: Text(%q) = %q", secret, in, out)
		}
		if len(other) >= redact.MinSecretLen && !strings.Contains(redact.Mask, other) && strings.Contains(out, other) {
			t.Fatalf("secret %q survived: Text(%q) = %q", other, in, out)
		}
		if !strings.Contains(in, "=") && !strings.Contains(in, ":") && utf8.ValidString(in) && utf8.ValidString(out) {
			// Without pairs, only secrets are masked: removing every Mask
			// from out leaves no more text than in had.
			assert.LessOrEqual(t, len(strings.ReplaceAll(out, redact.Mask, "")), len(in))
		}
	})
}

func TestTextPathologicalSecretIsBounded(t *testing.T) {
	in := "]" + strings.Repeat("xy", 50000)
	done := make(chan string, 1)
	go func() { done <- redact.Text(in, []string{"]xy"}) }()
	select {
	case out := <-done:
		assert.NotContains(t, out, "]xy")
	case <-time.After(10 * time.Second):
		t.Fatal("Text took more than 10 s on a 100 kB input")
	}
}

func TestTextErrorPrefixesAreNotPairs(t *testing.T) {
	for _, in := range []string{
		"podman-api: list: dial unix /run/podman.sock: connect: connection refused",
		"podman-api: inspect web: no such container",
		"github.com/x/api: failed",
		"host:api: x",
	} {
		assert.Equal(t, in, redact.Text(in, nil))
	}
	// A whole-token key still counts.
	assert.Equal(t, "password: "+M, redact.Text("password: hunter2", nil))
	assert.Equal(t, "x, API_KEY: "+M, redact.Text("x, API_KEY: abc", nil))
}
