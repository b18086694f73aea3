// Package workload turns a scenario and a seed into the complete,
// deterministic schedule of a testnet run, generated before the run starts.
//
// A [Schedule] is a time-ordered list of [Op]s, each with an offset At from
// schedule time zero (the moment the launcher starts executing it, after all
// node processes are up):
//
//   - announce(node, object): node announces that it holds object;
//   - lookup(node, object): node looks object up;
//   - kill(node) / restart(node): random churn (Cause "churn") or the victims
//     of a mass failure (Cause "mass_failure");
//   - mass_failure(nodes): marker of a mass failure; the victims' kill ops
//     follow at the same offset;
//   - kill_supernode(index): targeted kill, resolved at run time: the launcher
//     kills the supernode at position Index mod S in the list of the S
//     current supernodes ordered by node index (skip if S == 0);
//   - restart with Node == -1 and Ref == id of a kill_supernode op: restart
//     whichever node that targeted kill picked (skip if it picked none).
//
// Generation model:
//
//   - Objects are numbered 0..K-1 by popularity rank and drawn from the
//     Zipf–Mandelbrot law P(k) ∝ (v+k)^-s by inverse transform sampling over
//     a precomputed CDF table. math/rand's Zipf is not used because it
//     requires s > 1; this sampler accepts any s >= 0 with the same (s, v)
//     parametrisation.
//   - Announces and lookups are Poisson processes with the scenario's overall
//     rates λa and λl, starting after the warmup: exponential inter-arrival
//     times (rand.ExpFloat64()/λ). The issuing node is uniform among the
//     nodes that are up at that moment according to the deterministic churn
//     (ops that find no node up are dropped and counted in Header.Dropped).
//     Targeted kills are not known in advance: the launcher must skip ops for
//     nodes that are down and log them as skipped.
//   - During the warmup each object is announced by InitialHolders distinct
//     uniformly chosen nodes (Cause "initial"), in random order, evenly spaced.
//   - Random churn: every node with a finite MTTF alternates exponential up
//     times (mean MTTF) and down times (mean MTTR), starting at the end of the
//     warmup. A mass failure at offset At kills ceil(fraction × up) nodes
//     chosen uniformly among those up then, restarted RestartAfter later;
//     afterwards their churn process continues (memoryless).
//   - Targeted supernode kills at the listed offsets and as a Poisson process
//     of the given rate after the warmup, each with a uniformly random Index.
//
// Determinism: all randomness comes from math/rand/v2 PCG generators seeded
// with (seed, stream constant), one independent stream per component (churn,
// targeted kills, initial announces, announces, lookups), so changing e.g.
// the lookup rate leaves the churn schedule unchanged. Time offsets are
// integer nanoseconds. The same scenario and seed give a byte-identical JSONL
// serialisation with the same Go version on the same architecture (the
// floating-point transcendental functions behind ExpFloat64 and Pow are not
// promised bit-identical across architectures, so keep the schedule file of
// a run for replay).
//
// Limits: every op lies in [0, duration); generation fails with
// [ErrTooManyEvents] as soon as the number of ops would exceed the
// scenario's max_events.
package workload
