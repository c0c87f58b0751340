package driver

import (
	"net"
	"net/url"
	"strings"

	"github.com/ctrgate/ctrgate"
)

// OptAllowPlainTCP is the backend option ("true") that lets an engine
// address be plain tcp:// (no TLS) on a host other than this machine's
// loopback.
const OptAllowPlainTCP = "allow_plain_tcp"

// CheckPlainTCP refuses an engine address that is plain TCP (tcp:// or
// http://, without TLS) to a host that is not a loopback address, unless
// allowed: Docker's and Podman's daemons hand root to whoever reaches that
// port. field names the setting in the error (*ctrgate.SpecError, matching
// ctrgate.ErrInvalidSpec); the address is shown without credentials.
func CheckPlainTCP(field, address string, tls, allowed bool) error {
	if tls || allowed {
		return nil
	}
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "http") {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	u.User = nil
	return &ctrgate.SpecError{Field: field, Reason: "plain " + strings.TrimSuffix(u.String(), "/") +
		" is not on this machine's loopback: anyone who reaches that port gets root on the engine's host; " +
		"use TLS or ssh://, or set " + OptAllowPlainTCP + "=true to accept that"}
}
