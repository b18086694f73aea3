// Command scale runs the scale mode (testnet/scale): `make scale`.
package main

import (
	"os"

	"github.com/supertracker/supertracker/testnet/scale"
)

func main() { os.Exit(scale.Main(os.Args[1:], os.Stdout, os.Stderr)) }
