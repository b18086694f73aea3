package main

import (
	"strings"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// electionText renders the election object of a status reply for a person.
func electionText(s *httpapi.ElectionStatus) string {
	return "\n  " + strings.ReplaceAll(strings.TrimRight(s.String(), "\n"), "\n", "\n  ")
}
