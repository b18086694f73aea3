package node

// Who may use the API: the Host allowlist, the cross-origin checks and the
// token of httpapi.Guard.

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

// TokenFile is where a node bound beyond loopback keeps the token it
// generated, in its data directory.
const TokenFile = "api.token"

// TokenEnv is the environment variable the CLI reads the token from.
const TokenEnv = "SUPERTRACKER_API_TOKEN"

// GuardFor returns the guard of an API bound to hostport, with the token
// given (may be empty) and the extra Host names allowed. Bound beyond
// loopback without a token, it reads or creates DATA/api.token.
func GuardFor(hostport, dataDir, token string, allowHosts []string, log *slog.Logger) (httpapi.GuardConfig, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return httpapi.GuardConfig{}, fmt.Errorf("--api %q: %w", hostport, err)
	}
	cfg := httpapi.GuardConfig{ListenHost: host, AllowedHosts: allowHosts, Token: token}
	if cfg.Token != "" || loopbackHost(host) {
		return cfg, nil
	}
	if dataDir == "" {
		return cfg, fmt.Errorf("--api %s is reachable beyond this machine: give --api-token", hostport)
	}
	path := filepath.Join(dataDir, TokenFile)
	cfg.Token, err = readOrCreateToken(path)
	if err != nil {
		return cfg, fmt.Errorf("--api %s is reachable beyond this machine and needs a token: %w", hostport, err)
	}
	log.Info("API bound beyond loopback: requests need the token (Authorization: Bearer TOKEN; "+TokenEnv+" for the CLI)",
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
