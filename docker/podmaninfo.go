package docker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// podmanHostInfo asks Podman's own (libpod) API what the Docker-compatible
// /info does not say: whether the service runs rootless (Podman 4.x leaves
// "name=rootless" out; Podman 5 has it) and its rootless network command
// (Podman 5: "pasta"; 4.x does not say). ok is false when the libpod API
// does not answer.
func (r *Runtime) podmanHostInfo(ctx context.Context) (rootless bool, netCmd string, ok bool) {
	base := "http://d" // unix socket or ssh: the transport dials the engine whatever the host
	if u, err := url.Parse(r.cli.DaemonHost()); err == nil && (u.Scheme == "tcp" || u.Scheme == "http" || u.Scheme == "https") {
		scheme := "http"
		if t, isT := r.cli.HTTPClient().Transport.(*http.Transport); u.Scheme == "https" || (isT && t.TLSClientConfig != nil) {
			scheme = "https"
		}
		base = scheme + "://" + u.Host
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v4.0.0/libpod/info", nil)
	if err != nil {
		return false, "", false
	}
	resp, err := r.cli.HTTPClient().Do(req)
	if err != nil {
		return false, "", false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return false, "", false
	}
	var v struct {
		Host struct {
			RootlessNetworkCmd string `json:"rootlessNetworkCmd"`
			Security           struct {
				Rootless bool `json:"rootless"`
			} `json:"security"`
		} `json:"host"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return false, "", false
	}
	return v.Host.Security.Rootless, v.Host.RootlessNetworkCmd, true
}
