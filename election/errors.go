package election

import "errors"

// Sentinel errors. Every error the package returns wraps one of these, so
// callers branch with errors.Is.
var (
	// ErrInvalidConfig: a Config field is out of range (from Validate and New).
	ErrInvalidConfig = errors.New("election: invalid config")
	// ErrInvalidObservation: an observation is malformed (zero time, NaN or
	// negative measurement, empty reporter, ...). The machine is unchanged.
	ErrInvalidObservation = errors.New("election: invalid observation")
	// ErrUnverifiedReachability: a Reachability{Reachable: true} without the
	// node that dialled back. Reachability is never assumed; it is also
	// wrapped together with ErrInvalidObservation.
	ErrUnverifiedReachability = errors.New("election: reachability not verified by a dial-back")
	// ErrNoProposal: RoleChangeFailed was reported while no proposal was in
	// flight. The machine is unchanged.
	ErrNoProposal = errors.New("election: no proposal in flight")
	// ErrInvalidHistory: an UptimeHistory is malformed or an update to it
	// would make it so (sessions out of order, end before start, bad JSON).
	ErrInvalidHistory = errors.New("election: invalid uptime history")
)
