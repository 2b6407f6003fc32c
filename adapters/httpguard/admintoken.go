package httpguard

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// AdminTokens are the admin tokens a deployment accepts, all at once:
// CALLCONNECT_ADMIN_TOKEN holds one, or several separated by commas, so
// that a token can be replaced without a moment when none works: add the
// new one, move the CRM and the operators to it, then drop the old one.
type AdminTokens struct {
	tokens []string
	sums   [][sha256.Size]byte
}

// ParseAdminTokens splits a comma-separated list of tokens, each trimmed;
// blank entries are skipped, so "" (or ",") accepts no token at all.
func ParseAdminTokens(list string) AdminTokens {
	var a AdminTokens
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			a.tokens = append(a.tokens, t)
			a.sums = append(a.sums, sha256.Sum256([]byte(t)))
		}
	}
	return a
}

// Tokens are the tokens, in the order given.
func (a AdminTokens) Tokens() []string { return a.tokens }

// Match tells whether presented is one of the tokens, and which. Each is
// compared in constant time, and every one of them whatever the result;
// both sides are hashed first, so neither a token's content nor its length
// leaks through timing.
func (a AdminTokens) Match(presented string) (token string, ok bool) {
	got := sha256.Sum256([]byte(presented))
	found := -1
	for i := range a.sums {
		if subtle.ConstantTimeCompare(got[:], a.sums[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return a.tokens[found], true
}
