// Package scenarios holds the built-in testnet scenario files (default.json,
// smoke.json) embedded into the binary, so a run needs no files on disk.
//
// Use package testnet/scenario to parse and validate them; this package only
// carries the bytes.
package scenarios

import "embed"

// FS holds every *.json file of this directory.
//
//go:embed *.json
var FS embed.FS
