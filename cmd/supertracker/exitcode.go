package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

// Exit statuses of every command (documented in usage, the commands'
// --help and the README).
const (
	exitOK       = 0
	exitNotFound = 1 // lookup: no holder
	exitUsage    = 2 // bad input: flags, config, CIDs (HTTP 400, 501)
	exitOverlay  = 3 // the overlay failed: no supernode attached, refused, failed (HTTP 502)
	exitTimeout  = 4 // the overlay did not answer in time (HTTP 504), or --timeout passed
	exitLocal    = 5 // the node's API is unreachable; a daemon's --data or --listen is in use
)

// exitCodesHelp is the table the commands' --help ends with.
const exitCodesHelp = `Exit status: 0 success; 1 lookup found no holder; 2 bad input (flags, CIDs,
config; API status 400 or 501); 3 the overlay failed (no supernode attached,
a supernode refused or failed; API status 502); 4 timeout (API status 504,
or --timeout passed); 5 the node's API cannot be reached, or a node cannot
start because its --data is locked by another process or its --listen
address is in use.`

// clientExit maps a failed API call to an exit status and what to print.
func clientExit(err error) (int, string) {
	var se *httpapi.StatusError
	var ue *url.Error
	switch {
	case errors.As(err, &se):
		switch se.Code {
		case 400, 501:
			return exitUsage, fmt.Sprintf("bad input (HTTP %d): %s", se.Code, se.Msg)
		case 504:
			return exitTimeout, fmt.Sprintf("timeout (HTTP %d): %s", se.Code, se.Msg)
		}
		return exitOverlay, fmt.Sprintf("overlay failure (HTTP %d): %s", se.Code, se.Msg)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		return exitTimeout, fmt.Sprintf("timeout: the node did not answer within --timeout: %v", err)
	}
	return exitLocal, fmt.Sprintf("cannot reach the node's API: %v", err)
}

// daemonExit is the exit status of a daemon that failed to start or run.
func daemonExit(err error) int {
	if errors.Is(err, node.ErrInUse) {
		return exitLocal
	}
	return exitUsage
}
