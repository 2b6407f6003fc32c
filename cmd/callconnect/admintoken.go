package main

import (
	"callconnect/adapters/httpguard"
	"errors"
	"fmt"
	"math"
	"strings"
)

// minAdminTokenBits is how much randomness an admin token must hold: 32
// random bytes' worth. The token opens every environment's data, and a
// guesser may try it from anywhere its port is reachable.
const minAdminTokenBits = 256

// makeAdminToken says how to make a token that passes.
const makeAdminToken = "make one with `head -c 32 /dev/urandom | base64` (or 64 hex characters: " +
	"`head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`, as make run does)"

// checkAdminTokens checks CALLCONNECT_ADMIN_TOKEN: at least one token, and
// each strong enough (adminTokenWeakness). The error never shows a token.
func checkAdminTokens(value string) error {
	tokens := httpguard.ParseAdminTokens(value).Tokens()
	if len(tokens) == 0 {
		return errors.New("CALLCONNECT_ADMIN_TOKEN: is required (make run generates one in .data/admin-token); " + makeAdminToken)
	}
	var errs []error
	for i, tok := range tokens {
		if why := adminTokenWeakness(tok); why != "" {
			which := "the token"
			if len(tokens) > 1 {
				which = fmt.Sprintf("token %d of %d", i+1, len(tokens))
			}
			errs = append(errs, fmt.Errorf("CALLCONNECT_ADMIN_TOKEN: %s holds less than 32 random bytes' worth (%s); %s", which, why, makeAdminToken))
		}
	}
	return errors.Join(errs...)
}

// adminTokenWeakness says why a token cannot hold 32 random bytes, "" when
// it may. A token's text bounds what it can hold: each character carries
// at most the bits of the alphabet it is drawn from (digits 3.3, hex 4,
// letters and digits 5.95, base64 6, any printable character 6.6), so 64
// hex characters or 43 of base64 are the least that do. A text of a few
// distinct characters repeated (aaaa…, abab…) is no random draw at all,
// whatever its length.
func adminTokenWeakness(tok string) string {
	distinct := map[rune]bool{}
	for _, r := range tok {
		distinct[r] = true
	}
	if len(distinct) < 8 {
		return fmt.Sprintf("only %d different characters", len(distinct))
	}
	name, size := tokenAlphabet(tok)
	bits := float64(len(tok)) * math.Log2(float64(size))
	if bits < minAdminTokenBits {
		return fmt.Sprintf("%d characters of %s carry at most %d bits; %d are needed", len(tok), name, int(bits), minAdminTokenBits)
	}
	return ""
}

// tokenAlphabet is the smallest usual alphabet all of tok's characters are
// drawn from, and its size.
func tokenAlphabet(tok string) (string, int) {
	only := func(set string) bool {
		for _, r := range tok {
			if !strings.ContainsRune(set, r) {
				return false
			}
		}
		return true
	}
	const digits, lower, upper = "0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	switch {
	case only(digits):
		return "digits", 10
	case only(digits + "abcdef"), only(digits + "ABCDEF"):
		return "hex", 16
	case only(digits + lower + upper):
		return "letters and digits", 62
	case only(digits + lower + upper + "+/=-_"):
		return "base64", 64
	}
	return "printable characters", 95
}
