package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runHealthcheck asks a node's /healthz: exit 0 while it serves its role,
// 1 when it answers 503 (not attached, shutting down), 2 when it cannot be
// reached. For container health checks (the image has no shell or curl).
func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck [--api HOST:PORT]",
		`Asks the node's /healthz: exit 0 while it serves its role (a supernode
until it shuts down, a leaf while attached to a supernode), 1 when it does
not, 2 when its API cannot be reached.`, stderr)
	api := fs.String("api", defaultAPI, "the node's API address")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, done := parseFlags(fs, args, 0); done {
		return code
	}
	base := *api
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/healthz", nil)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker healthcheck:", err)
		return 2
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(stdout, string(body))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
