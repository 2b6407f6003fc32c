package httpapi_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BenchmarkJunkCallbackBodies posts 8 callbacks at once, each 70 MiB of
// junk JSON (one huge unknown key, no recording) from a valid partner
// token, to the handler on the in-memory store, and reports the process's
// resident memory: peak-rss-MiB its peak while they were answered (VmHWM,
// reset just before), rss-before-MiB what it was before, and
// rss-growth-MiB the difference; heap-alloc-MiB is what the 8 requests
// allocated in all. Each is refused 413 once its JSON passes the 1 MiB
// limit, so the figures stay near the process's own, whatever the bodies'
// size.
//
//	go test ./adapters/httpapi -run '^$' -bench JunkCallbackBodies -benchtime 1x -count 3
func BenchmarkJunkCallbackBodies(b *testing.B) {
	const bodies, size = 8, 70 << 20
	r := newCallbackRig(b, rigConfig{})
	runtime.GC()
	before, _ := readRSS(b)
	resetPeakRSS(b)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		codes := make([]int, bodies)
		for i := range bodies {
			wg.Go(func() {
				src := &junkJSON{n: size}
				req := httptest.NewRequest(http.MethodPost, "/api/cvio/lead", src)
				req.ContentLength = size
				req.Header.Set("email", partnerEmail)
				req.Header.Set("token", r.token)
				rec := httptest.NewRecorder()
				r.handler.ServeHTTP(rec, req)
				codes[i] = rec.Code
			})
		}
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusRequestEntityTooLarge {
				b.Fatalf("body %d: %d, want 413", i, c)
			}
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	_, peak := readRSS(b)
	const mib = 1 << 20
	b.ReportMetric(float64(peak)/mib, "peak-rss-MiB")
	b.ReportMetric(float64(before)/mib, "rss-before-MiB")
	b.ReportMetric(float64(peak-before)/mib, "rss-growth-MiB")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/mib, "heap-alloc-MiB")
}

// readRSS reads this process's resident set (VmRSS) and its peak (VmHWM)
// from /proc, in bytes; the benchmark is skipped where there is no /proc.
func readRSS(b *testing.B) (rss, peak int64) {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc to read memory from: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			b.Fatalf("%s: %v", sc.Text(), err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		b.Fatal("no VmRSS or VmHWM in /proc/self/status")
	}
	return rss, peak
}

// resetPeakRSS sets VmHWM back to the current resident set (Linux's
// clear_refs "5"), so that the peak read next is the benchmark's own.
func resetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak resident set: %v", err)
	}
	rss, peak := readRSS(b)
	if peak > rss+(rss>>4) {
		b.Skipf("the peak resident set was not reset (%d > %d)", peak, rss)
	}
}
