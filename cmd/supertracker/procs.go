package main

import (
	"os"
	"runtime"
)

// daemonProcs gives a node's process twice as many Go processors (Ps) as
// Go would (the CPUs, or the cgroup's CPU limit), unless the GOMAXPROCS
// environment variable sets them. A supernode's CPU-bound work — verifying
// and storing batches (at most CPUs − 1 at once, supernode/cpuwork.go),
// LevelDB's compactions, the GC — can hold every P, and a goroutine that
// holds one runs until it blocks or the scheduler preempts it (10 ms): an
// attached leaf's lookup then waits that long for a P. With spare Ps it
// gets one at once, and the kernel, which favours threads that just woke,
// shares the cores. Measured under the attack suite's flood (2 cores):
// honest lookups' p95 3.9× their baseline instead of 13.7× (docs/security.md).
func daemonProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
}
