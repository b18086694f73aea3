package main

import (
	"io"

	"github.com/supertracker/supertracker/testnet/model"
)

func runModel(args []string, stdout, stderr io.Writer) int { return model.Main(args, stdout, stderr) }
