package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
)

// PartnerTokenPrefix starts every partner token, so that a leaked one is
// recognisable (secret scanners, logs).
const PartnerTokenPrefix = "cct_"

// Partner token limits.
const (
	MinPartnerSecretBytes  = 32  // random bytes behind a token
	MaxPartnerSecretLength = 128 // characters of the secret part a parser accepts
	MaxPartnerTokenIDLen   = 32  // characters of the id part
	MaxTokenDescription    = 200 // bytes of the description
)

// PartnerToken authenticates a partner's callbacks (headers email and
// token) and identifies the environment they are for. The token is
// "cct_<id>_<secret>"; only the SHA-256 of the secret is kept, so the
// plaintext exists once, in the answer that creates it.
type PartnerToken struct {
	envID       string
	id          string
	email       string
	description string
	hash        [sha256.Size]byte
	createdAt   time.Time
	revokedAt   *time.Time
}

// NewPartnerToken creates a token for the partner at email. id is a short
// identifier of letters, digits and '-' (no '_': it separates the parts);
// secret holds at least MinPartnerSecretBytes random bytes, drawn by the
// caller. plaintext is the token to show once.
func NewPartnerToken(envID, id, email, description string, secret []byte, createdAt time.Time) (PartnerToken, string, error) {
	if err := checkID("env", envID); err != nil {
		return PartnerToken{}, "", err
	}
	if !validTokenID(id) {
		return PartnerToken{}, "", invalid("id", "must be 1 to %d letters, digits or '-'", MaxPartnerTokenIDLen)
	}
	email = strings.TrimSpace(email)
	if !validEmail(email) {
		return PartnerToken{}, "", invalid("email", "must be a plain e-mail address such as name@example.com")
	}
	description = strings.TrimSpace(description)
	if err := checkText("description", description, false, MaxTokenDescription); err != nil {
		return PartnerToken{}, "", err
	}
	if len(secret) < MinPartnerSecretBytes {
		return PartnerToken{}, "", invalid("secret", "must be at least %d random bytes", MinPartnerSecretBytes)
	}
	if createdAt.IsZero() {
		return PartnerToken{}, "", invalid("created_at", "is required")
	}
	secretText := base64.RawURLEncoding.EncodeToString(secret)
	if len(secretText) > MaxPartnerSecretLength {
		return PartnerToken{}, "", invalid("secret", "must be at most %d bytes", MaxPartnerSecretLength*3/4)
	}
	t := PartnerToken{envID: envID, id: id, email: email, description: description,
		hash: sha256.Sum256([]byte(secretText)), createdAt: createdAt}
	return t, PartnerTokenPrefix + id + "_" + secretText, nil
}

// RestorePartnerToken rebuilds a token from storage.
func RestorePartnerToken(envID, id, email, description string, hash [sha256.Size]byte, createdAt time.Time, revokedAt *time.Time) PartnerToken {
	t := PartnerToken{envID: envID, id: id, email: email, description: description, hash: hash, createdAt: createdAt}
	if revokedAt != nil {
		at := *revokedAt
		t.revokedAt = &at
	}
	return t
}

// ParsePartnerTokenString splits a presented token into its id (to look the
// token up) and its secret (to compare with Matches). ok is false when s
// cannot be a token; surrounding spaces are tolerated.
func ParsePartnerTokenString(s string) (id string, secret string, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, PartnerTokenPrefix) {
		return "", "", false
	}
	id, secret, ok = strings.Cut(s[len(PartnerTokenPrefix):], "_")
	if !ok || !validTokenID(id) || secret == "" || len(secret) > MaxPartnerSecretLength {
		return "", "", false
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", false
		}
	}
	return id, secret, true
}

func validTokenID(id string) bool {
	if id == "" || len(id) > MaxPartnerTokenIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validEmail accepts a plain address (name@example.com), not a display
// name or angle brackets, of at most 254 bytes.
func validEmail(s string) bool {
	if s == "" || len(s) > 254 {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s
}

// Matches reports whether a request presenting email and the secret part
// of a token is authenticated by t: the secret's hash is compared in
// constant time (always, whatever the email), the email case-insensitively,
// and a revoked token matches nothing.
func (t PartnerToken) Matches(email, presentedSecret string) bool {
	sum := sha256.Sum256([]byte(presentedSecret))
	secretOK := subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1
	emailOK := strings.EqualFold(strings.TrimSpace(email), t.email)
	return secretOK && emailOK && t.revokedAt == nil
}

// Revoke makes the token unusable from at on; revoking again keeps the
// first time.
func (t *PartnerToken) Revoke(at time.Time) {
	if t.revokedAt == nil {
		t.revokedAt = &at
	}
}

// Revoked reports whether the token was revoked.
func (t PartnerToken) Revoked() bool { return t.revokedAt != nil }

// RevokedAt returns when the token was revoked, or nil.
func (t PartnerToken) RevokedAt() *time.Time {
	if t.revokedAt == nil {
		return nil
	}
	at := *t.revokedAt
	return &at
}

// Hash is the SHA-256 of the secret part: the stored form of the token.
func (t PartnerToken) Hash() [sha256.Size]byte { return t.hash }

func (t PartnerToken) EnvID() string        { return t.envID }
func (t PartnerToken) ID() string           { return t.id }
func (t PartnerToken) Email() string        { return t.email }
func (t PartnerToken) Description() string  { return t.description }
func (t PartnerToken) CreatedAt() time.Time { return t.createdAt }
