// Package launcher implements `supertracker testnet`: it starts a local
// overlay of real supertracker processes, each on its own 127.0.0.x
// address, drives it, reports what it saw and stops every process it
// started, on success, failure and Ctrl-C alike.
package launcher
