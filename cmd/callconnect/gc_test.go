package main

import (
	"testing"
)

// TestGCPercent: a serving process collects at GOGC=400 unless the
// environment says otherwise, which the Go runtime then applies itself.
func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		gogc    string
		percent int
		set     bool
	}{{"", defaultGCPercent, true}, {"100", 0, false}, {"off", 0, false}} {
		percent, set := gcPercent(func(k string) string {
			if k == "GOGC" {
				return tc.gogc
			}
			return ""
		})
		if percent != tc.percent || set != tc.set {
			t.Errorf("GOGC=%q: (%d, %t), want (%d, %t)", tc.gogc, percent, set, tc.percent, tc.set)
		}
	}
}
