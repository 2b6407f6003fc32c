package jobs

import (
	"testing"
	"time"
)

// TestDefaultsResumeAbandonedDeliveriesWithinAMinute: a delivery whose
// process died is taken for abandoned RescueAfter after its attempt began,
// found by River's rescuer at its next run (every 30 s), made retryable
// about a second out (River's backoff for a first retry) and available by
// River's scheduler at its next run (every 5 s).
func TestDefaultsResumeAbandonedDeliveriesWithinAMinute(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.RescueAfter < cfg.JobTimeout {
		t.Fatalf("default RescueAfter %s is below JobTimeout %s", cfg.RescueAfter, cfg.JobTimeout)
	}
	const firstRetry = 1100 * time.Millisecond // 1 s plus River's 10% jitter
	worst := cfg.RescueAfter + riverRescuerInterval + firstRetry + riverSchedulerInterval
	if worst > time.Minute {
		t.Errorf("an abandoned delivery may wait %s before it runs again, over a minute", worst)
	}
	t.Logf("worst case with the defaults: %s", worst)
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	if got.MaxWorkers != 100 || got.JobTimeout != 18*time.Second || got.RescueAfter != 22*time.Second || got.StopTimeout != 10*time.Second {
		t.Errorf("defaults %+v", got)
	}
	got = Config{JobTimeout: 40 * time.Second}.withDefaults()
	if got.RescueAfter != 44*time.Second {
		t.Errorf("RescueAfter %s for a 40s JobTimeout, want it to follow: 44s", got.RescueAfter)
	}
}

func TestNewClientRefusesRescueBeforeTimeout(t *testing.T) {
	if _, err := NewClient(nil, nil, Config{JobTimeout: 30 * time.Second, RescueAfter: 20 * time.Second}); err == nil {
		t.Error("NewClient accepted a RescueAfter shorter than the JobTimeout")
	}
}
