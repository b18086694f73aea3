package main

import (
	"encoding/json"
	"errors"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// electionJSON decodes the election object of a status as the API sent it
// (JSON) into v, for tests that read the wire form.
func electionJSON(el *httpapi.ElectionStatus, v any) error {
	if el == nil {
		return errors.New("status has no election object")
	}
	b, err := json.Marshal(el)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
