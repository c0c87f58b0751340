package driver

import (
	"time"

	"github.com/ctrgate/ctrgate/backend"
)

// EngineOptions are the options every engine backend declares the same
// way, parsed once from resolved backend options (backend.Open).
type EngineOptions struct {
	Timeout           time.Duration // backend.OptTimeout
	ResumeWindow      time.Duration // backend.OptResumeWindow
	LivenessProbe     time.Duration // backend.OptLivenessProbe; -1 for "off"
	AllowPlainTCP     bool          // OptAllowPlainTCP
	KnownHosts        string        // OptKnownHosts
	AcceptNewHostKeys bool          // OptAcceptNewHostKeys
}

// ParseEngineOptions reads the EngineOptions of cfg; a bad value fails
// with ctrgate.ErrInvalidSpec.
func ParseEngineOptions(cfg backend.Config) (EngineOptions, error) {
	var o EngineOptions
	var err error
	if o.Timeout, err = cfg.Duration(backend.OptTimeout, 0); err != nil {
		return o, err
	}
	if o.ResumeWindow, err = cfg.Duration(backend.OptResumeWindow, 0); err != nil {
		return o, err
	}
	if o.LivenessProbe, err = cfg.DurationOrOff(backend.OptLivenessProbe); err != nil {
		return o, err
	}
	if o.AllowPlainTCP, err = cfg.Bool(OptAllowPlainTCP); err != nil {
		return o, err
	}
	if o.AcceptNewHostKeys, err = cfg.Bool(OptAcceptNewHostKeys); err != nil {
		return o, err
	}
	o.KnownHosts = cfg.Option(OptKnownHosts)
	return o, nil
}
