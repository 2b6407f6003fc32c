package domain

import "time"

// Verdict is what one delivery attempt means for the call.
type Verdict int

const (
	VerdictDelivered Verdict = iota + 1 // 2xx: the partner accepted the call
	VerdictRetry                        // worth trying again: 5xx, 408, 425, 429, timeouts, connection errors
	VerdictPermanent                    // any other answer: trying again would get the same
)

// Judge classifies an attempt by the partner's status code (rule 10);
// statusCode 0 means no answer came back (timeout, refused connection,
// reset), which is worth retrying.
func Judge(statusCode int) Verdict {
	switch {
	case statusCode == 0:
		return VerdictRetry
	case statusCode >= 200 && statusCode <= 299:
		return VerdictDelivered
	case statusCode == 408 || statusCode == 425 || statusCode == 429 || statusCode >= 500:
		return VerdictRetry
	}
	return VerdictPermanent
}

// MaxBackoff caps one wait between attempts.
const MaxBackoff = 5 * time.Minute

// Backoff is the wait before retry number n (1 for the first retry):
// exponential from min, with full jitter — a uniformly random wait between
// zero and min·2^(n-1), capped at MaxBackoff. jitter is a number in [0, 1).
// A partner's Retry-After, when longer, wins: it said when to come back.
func Backoff(n int, min time.Duration, jitter float64, retryAfter time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	ceiling := min
	for i := 1; i < n && ceiling < MaxBackoff; i++ {
		ceiling *= 2
	}
	if ceiling > MaxBackoff {
		ceiling = MaxBackoff
	}
	if jitter < 0 || jitter >= 1 {
		jitter = 0
	}
	wait := time.Duration(jitter * float64(ceiling))
	if retryAfter > wait {
		wait = retryAfter
	}
	return wait
}
