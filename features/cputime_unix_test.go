//go:build unix

package features

import "syscall"

// cpuTime is the process's user+system CPU time in ns: on a shared machine it is a steadier
// measure than wall time (bench_torchaudio.py reports time.process_time the same way).
func cpuTime() int64 {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return r.Utime.Nano() + r.Stime.Nano()
}
