package main

import (
	"encoding/json"
	"strings"

	"github.com/supertracker/supertracker/election"
)

// electionText renders the election object of a status reply for a person.
func electionText(raw json.RawMessage) string {
	var s election.Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return "\n  " + strings.ReplaceAll(strings.TrimRight(s.String(), "\n"), "\n", "\n  ")
}
