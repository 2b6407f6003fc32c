package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's target (GOGC) of a serving
// process when the environment sets none. Go's own default, 100, collects
// each time the heap doubles; the service's live heap is small and its
// garbage comes from requests, so a heap allowed to grow to five times the
// live one costs some memory (about 20 MiB more resident in make bench,
// idle and under load; docs/operations.md) and spends less of the
// service's CPU on collection: BenchmarkBinaryDelivery, three runs of each
// interleaved, gave a median of 1.28 ms of the service's CPU per delivered
// call at 100 and 1.16 ms at 400.
const defaultGCPercent = 400

// gcPercent is the GOGC a serving process runs with: the environment's when
// it sets GOGC (the Go runtime reads it at start-up), otherwise
// defaultGCPercent; set says whether the process must set it itself.
func gcPercent(getenv func(string) string) (percent int, set bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return defaultGCPercent, true
}

// tuneGC sets the garbage collector's target of a serving process
// (gcPercent).
func tuneGC(getenv func(string) string) {
	if percent, set := gcPercent(getenv); set {
		debug.SetGCPercent(percent)
	}
}
