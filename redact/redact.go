// Package redact removes secrets from argument vectors and free text before
// they reach an error message, a log line or debug output.
//
// A key is sensitive when it contains KEY, TOKEN, SECRET, API, PASSWORD or
// PRIVATE (any case), or is one of the keys whose values are URLs that may
// carry credentials (CODE_REPO, CLONE_FROM). Callers add the values of
// entries they know to be secret (for example env entries marked Secret).
package redact

import (
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// MinSecretLen is the shortest secret value that Text replaces inside free
// text; shorter values would mangle unrelated text and are too short to be
// secrets worth the name. They are still masked in KEY=VALUE forms.
const MinSecretLen = 3

var sensitiveKey = regexp.MustCompile(`(?i)(KEY|TOKEN|SECRET|API|PASSWORD|PRIVATE)`)

// alwaysRedacted are keys whose values are always masked: they hold URLs
// that may embed tokens.
var alwaysRedacted = map[string]bool{"CODE_REPO": true, "CLONE_FROM": true}

// IsSensitiveKey reports whether an environment key's value must be masked.
func IsSensitiveKey(key string) bool {
	return alwaysRedacted[strings.ToUpper(key)] || sensitiveKey.MatchString(key)
}

// EnvEntry masks the value of one "KEY=VALUE" entry when the key is
// sensitive or listed in extraKeys; other entries are returned unchanged.
func EnvEntry(entry string, extraKeys ...string) string {
	k, _, ok := strings.Cut(entry, "=")
	if !ok {
		return entry
	}
	if IsSensitiveKey(k) || contains(extraKeys, k) {
		return k + "=" + Mask
	}
	return entry
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Args returns a copy of an argument vector with the values of sensitive
// environment entries masked, in every form engines accept: "-e K=V",
// "--env K=V", "-e=K=V", "--env=K=V" and "-eK=V". extraKeys are keys to
// mask whatever their names (for example entries marked secret).
func Args(args []string, extraKeys ...string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		switch {
		case a == "-e" || a == "--env":
			if i+1 < len(out) {
				out[i+1] = EnvEntry(out[i+1], extraKeys...)
				i++
			}
		case strings.HasPrefix(a, "--env="):
			out[i] = "--env=" + EnvEntry(strings.TrimPrefix(a, "--env="), extraKeys...)
		case strings.HasPrefix(a, "-e="):
			out[i] = "-e=" + EnvEntry(strings.TrimPrefix(a, "-e="), extraKeys...)
		case strings.HasPrefix(a, "-e") && len(a) > 2 && strings.Contains(a, "="):
			out[i] = "-e" + EnvEntry(strings.TrimPrefix(a, "-e"), extraKeys...)
		}
	}
	return out
}

// envInText finds KEY=VALUE (and KEY: VALUE) pairs inside free text.
var envInText = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)(=|": ?"|: )([^\s"',;]+)`)

// Text masks secrets inside free text: every occurrence of a value in
// secrets (of at least MinSecretLen bytes, longest first), and the values of
// KEY=VALUE pairs whose keys are sensitive.
func Text(s string, secrets []string) string {
	if len(secrets) > 0 {
		vals := make([]string, 0, len(secrets))
		for _, v := range secrets {
			if len(v) >= MinSecretLen {
				vals = append(vals, v)
			}
		}
		sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return envInText.ReplaceAllStringFunc(s, func(m string) string {
		sub := envInText.FindStringSubmatch(m)
		if !IsSensitiveKey(sub[1]) || sub[3] == Mask {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
}
