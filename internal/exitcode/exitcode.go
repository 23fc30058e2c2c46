// Package exitcode holds the exit codes of avbalance's commands, part of the
// CLI contract that scripts and schedulers rely on.
package exitcode

// Exit codes.
const (
	OK       = 0   // everything done
	Aborted  = 1   // the run stopped on an error
	Usage    = 2   // bad flags or configuration
	Failures = 3   // done, but some clips failed (listed in failures.jsonl)
	Signal   = 130 // interrupted; resume with --resume
)
