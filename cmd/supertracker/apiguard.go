package main

// Who may use --api: the Host allowlist, the cross-origin checks and the
// token of httpapi.Guard, from the --api-token and --api-allow-host flags.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// apiTokenFile is where a node bound beyond loopback keeps the token it
// generated, in its data directory.
const apiTokenFile = "api.token"

// apiTokenEnv is read by the client commands (status, lookup, announce,
// withdraw) as well as by the daemons (config key api_token).
const apiTokenEnv = envPrefix + "API_TOKEN"

type apiGuardFlags struct {
	token, hosts *string
}

func addAPIGuardFlags(fs *cmdFlags) apiGuardFlags {
	f := apiGuardFlags{
		token: fs.String("api-token", "", "require this token (Authorization: Bearer TOKEN, or as the HTTP Basic password) on --api, "+
			"except /healthz and the delegated routing GETs; when --api is bound beyond loopback and this is empty, a token is "+
			"generated into DATA/"+apiTokenFile),
		hosts: fs.String("api-allow-host", "", "host names accepted in the Host header of --api requests besides IP literals, "+
			"localhost and the --api host (a reverse proxy's name), comma-separated"),
	}
	fs.list("api-allow-host")
	return f
}

// config returns the guard of an API bound to hostport. Bound beyond
// loopback without --api-token, it reads or creates DATA/api.token.
func (f apiGuardFlags) config(hostport, dataDir string, log *slog.Logger) (httpapi.GuardConfig, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return httpapi.GuardConfig{}, fmt.Errorf("--api %q: %w", hostport, err)
	}
	cfg := httpapi.GuardConfig{ListenHost: host, AllowedHosts: splitList(*f.hosts), Token: *f.token}
	if cfg.Token != "" || loopbackHost(host) {
		return cfg, nil
	}
	if dataDir == "" {
		return cfg, fmt.Errorf("--api %s is reachable beyond this machine: give --api-token", hostport)
	}
	path := filepath.Join(dataDir, apiTokenFile)
	cfg.Token, err = readOrCreateToken(path)
	if err != nil {
		return cfg, fmt.Errorf("--api %s is reachable beyond this machine and needs a token: %w", hostport, err)
	}
	log.Info("API bound beyond loopback: requests need the token (Authorization: Bearer TOKEN; "+apiTokenEnv+" for the CLI)",
		"api", hostport, "token_file", path)
	return cfg, nil
}

// loopbackHost: a host that only this machine reaches.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

func readOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("%s is empty", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// apiClient is the client of the CLI commands: the token comes from
// $SUPERTRACKER_API_TOKEN.
func apiClient(api string) *httpapi.Client {
	return httpapi.NewClient(api).WithToken(os.Getenv(apiTokenEnv))
}
