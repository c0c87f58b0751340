package ctrgate_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ctrgate/ctrgate"
)

func TestListFilterMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	tests := []struct {
		name    string
		f       ctrgate.ListFilter
		cname   string
		labels  map[string]string
		running bool
		want    bool
	}{
		{"empty filter, running", ctrgate.ListFilter{}, "x", nil, true, true},
		{"empty filter, stopped, not All", ctrgate.ListFilter{}, "x", nil, false, false},
		{"All includes stopped", ctrgate.ListFilter{All: true}, "x", nil, false, true},
		{"prefix match", ctrgate.ListFilter{NamePrefix: "job-", All: true}, "job-1", nil, false, true},
		{"prefix equal to name", ctrgate.ListFilter{NamePrefix: "job", All: true}, "job", nil, false, true},
		{"prefix mismatch", ctrgate.ListFilter{NamePrefix: "job-", All: true}, "web-1", nil, false, false},
		{"prefix is not a suffix/substring", ctrgate.ListFilter{NamePrefix: "job", All: true}, "myjob", nil, false, false},
		{"prefix is literal, '.' is not a wildcard", ctrgate.ListFilter{NamePrefix: "a.b-", All: true}, "aXb-1", nil, false, false},
		{"prefix literal dot matches dot", ctrgate.ListFilter{NamePrefix: "a.b-", All: true}, "a.b-1", nil, false, true},
		{"prefix case sensitive", ctrgate.ListFilter{NamePrefix: "Job", All: true}, "job-1", nil, false, false},
		{"docker leading slash ignored", ctrgate.ListFilter{NamePrefix: "job-", All: true}, "/job-1", nil, false, true},
		{"label present", ctrgate.ListFilter{Labels: map[string]string{"app": "web"}}, "x", labels, true, true},
		{"label wrong value", ctrgate.ListFilter{Labels: map[string]string{"app": "db"}}, "x", labels, true, false},
		{"label missing", ctrgate.ListFilter{Labels: map[string]string{"owner": ""}}, "x", labels, true, false},
		{"label any value", ctrgate.ListFilter{Labels: map[string]string{"tier": ""}}, "x", labels, true, true},
		{"all labels required", ctrgate.ListFilter{Labels: map[string]string{"app": "web", "tier": "back"}}, "x", labels, true, false},
		{"labels on nil map", ctrgate.ListFilter{Labels: map[string]string{"app": ""}}, "x", nil, true, false},
		{"prefix and labels", ctrgate.ListFilter{NamePrefix: "w", Labels: map[string]string{"app": "web"}, All: true}, "web", labels, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.f.Matches(tc.cname, tc.labels, tc.running))
		})
	}
}

func TestEventFilterMatches(t *testing.T) {
	f := ctrgate.EventFilter{NamePrefix: "a.b-", Labels: map[string]string{"k": ""}}
	assert.True(t, f.Matches("a.b-1", map[string]string{"k": "v"}))
	assert.False(t, f.Matches("aXb-1", map[string]string{"k": "v"}), "literal prefix")
	assert.False(t, f.Matches("a.b-1", nil), "label required")
	assert.True(t, ctrgate.EventFilter{}.Matches("anything", nil), "events are not limited to running containers")
}

func TestMatchers(t *testing.T) {
	l := ctrgate.LogLine{Stream: ctrgate.Stderr, Text: "server listening on :8080"}
	assert.True(t, ctrgate.MatchSubstring("listening")(l))
	assert.False(t, ctrgate.MatchSubstring("ready")(l))
	assert.True(t, ctrgate.MatchRegexp(regexp.MustCompile(`on :\d+$`))(l))
	assert.False(t, ctrgate.MatchRegexp(regexp.MustCompile(`^listening`))(l))
}
