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

// envInText finds KEY=VALUE, KEY: VALUE (white space after the colon, so
// "image:tag" is not a pair; the key must not follow '-', '.', '/', ':' or
// '@', so "podman-api: list" is not one either) and JSON "KEY": VALUE pairs
// inside free text. Group 1 is the key, group 2 the separator, group 3 the value: a
// double-quoted string (escapes honoured; an unterminated one runs to the
// end of the text), a single-quoted string, or a bare word ending at
// white space, a quote, ',' or ';'.
var envInText = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)(=|"[ \t]*:[ \t]*|:[ \t]+)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s"',;]+)`)

// Text masks secrets inside free text: every occurrence of a value in
// secrets (of at least MinSecretLen bytes; overlapping and adjacent
// occurrences become one Mask), and the values of KEY=VALUE, KEY: VALUE and
// JSON "KEY": "VALUE" pairs whose keys are sensitive (quotes around a value
// are kept, the whole quoted value is masked). The result never contains a
// secret value of at least MinSecretLen bytes, except as a part of Mask
// itself.
func Text(s string, secrets []string) string {
	vals := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if len(v) >= MinSecretLen {
			vals = append(vals, v)
		}
	}
	s = maskValues(s, vals)
	s = maskPairs(s)
	// Masking pairs inserts Mask text, which could complete a secret
	// together with its neighbours; secrets that are part of Mask itself
	// are left alone here (they would match every Mask).
	outer := vals[:0:0]
	for _, v := range vals {
		if !strings.Contains(Mask, v) {
			outer = append(outer, v)
		}
	}
	return maskValues(s, outer)
}

// maskPairs masks the values of sensitive KEY=VALUE pairs. A pair whose
// key is not sensitive is skipped, and its value is searched for pairs of
// its own ("--env=API_KEY=x").
func maskPairs(s string) string {
	var b strings.Builder
	last, pos := 0, 0
	for pos < len(s) {
		l := envInText.FindStringSubmatchIndex(s[pos:])
		if l == nil {
			break
		}
		for i := range l {
			l[i] += pos
		}
		key, sep, val := s[l[2]:l[3]], s[l[4]:l[5]], s[l[6]:l[7]]
		if !IsSensitiveKey(key) || (sep[0] == ':' && l[2] > 0 && strings.IndexByte("-./:@", s[l[2]-1]) >= 0) {
			// A bare "key: value" counts only when the key is a whole
			// token: "podman-api: list" is an error prefix, not a pair.
			pos = l[6]
			continue
		}
		pos = l[7]
		open, closing := "", ""
		if q := val[0]; q == '"' || q == '\'' {
			open = string(q)
			if len(val) > 1 && val[len(val)-1] == q {
				closing = open
			}
		}
		if strings.TrimSuffix(strings.TrimPrefix(val, open), closing) == Mask {
			continue
		}
		b.WriteString(s[last:l[6]])
		b.WriteString(open + Mask + closing)
		last = l[7]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// maxMaskRounds bounds maskValues' repetitions; text that needs more (a
// pathological secret that keeps forming again next to each new Mask) is
// masked whole.
const maxMaskRounds = 32

// maskValues replaces every occurrence of every value in vals by Mask,
// merging overlapping and adjacent occurrences into one Mask. It repeats
// until no value occurs across a Mask and its neighbours (each round masks
// more of s, so it ends; after maxMaskRounds the whole text becomes Mask).
func maskValues(s string, vals []string) string {
	if len(vals) == 0 || s == "" {
		return s
	}
	covered := make([]bool, len(s))
	out, origin := s, []int(nil)
	for round := 0; ; round++ {
		if round == maxMaskRounds {
			return Mask
		}
		changed := false
		for _, v := range vals {
			for i := 0; i <= len(out)-len(v); {
				j := strings.Index(out[i:], v)
				if j < 0 {
					break
				}
				start := i + j
				for k := start; k < start+len(v); k++ {
					o := k
					if origin != nil {
						o = origin[k]
					}
					if o >= 0 && !covered[o] {
						covered[o] = true
						changed = true
					}
				}
				i = start + 1
			}
		}
		if !changed {
			return out
		}
		out, origin = render(s, covered)
	}
}

// render rebuilds s with every run of covered bytes replaced by Mask, and
// returns for each output byte its index in s (-1 for Mask bytes).
func render(s string, covered []bool) (string, []int) {
	var b strings.Builder
	origin := make([]int, 0, len(s))
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			origin = append(origin, i)
			i++
			continue
		}
		for i < len(s) && covered[i] {
			i++
		}
		b.WriteString(Mask)
		for range len(Mask) {
			origin = append(origin, -1)
		}
	}
	return b.String(), origin
}
