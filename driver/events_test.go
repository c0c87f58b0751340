package driver_test

import (
	"testing"

	"github.com/ctrgate/ctrgate"
	"github.com/ctrgate/ctrgate/driver"
	"github.com/stretchr/testify/assert"
)

func TestNormaliseEventType(t *testing.T) {
	tests := []struct {
		raw  string
		want ctrgate.EventType
		ok   bool
	}{
		{"create", ctrgate.EventCreate, true},
		{"start", ctrgate.EventStart, true},
		{"die", ctrgate.EventDie, true},        // docker, podman
		{"died", ctrgate.EventDie, true},       // podman
		{"remove", ctrgate.EventRemove, true},  // podman
		{"destroy", ctrgate.EventRemove, true}, // docker
		{"exec", "", false},
		{"exec_create", "", false},
		{"exec_start", "", false},
		{"exec_die", "", false},
		{"exec_died", "", false},
		{"init", "", false},
		{"cleanup", "", false},
		{"attach", "", false},
		{"kill", "", false},
		{"stop", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := driver.NormaliseEventType(tc.raw)
		assert.Equal(t, tc.ok, ok, "%q", tc.raw)
		assert.Equal(t, tc.want, got, "%q", tc.raw)
	}
}
