package jobs

import "time"

// WithPollInterval sets how often the client polls for jobs, so a test can
// tell a pick-up by notification from one by poll.
func WithPollInterval(cfg Config, d time.Duration) Config {
	cfg.pollInterval = d
	return cfg
}
