package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"callconnect/adapters/httpguard"
	"callconnect/ports"
)

// Cookie names. The session cookie is scoped to the console's path.
const (
	sessionCookie = "callconnect_console"
	signInCookie  = "callconnect_console_signin"
	cookiePath    = Path
)

// session is what the signed session cookie carries. The cookie is signed
// (HMAC-SHA256 under a key derived from the deployment's secrets key) and
// names a session kept in the store every replica shares, so that signing
// out ends it everywhere at once: a copied cookie is refused as soon as its
// session is gone.
type session struct {
	// ID names the session in the store (which keeps only its hash).
	ID string `json:"sid"`
	// Expires is when the session ends, Unix seconds.
	Expires int64 `json:"exp"`
	// CSRF is the token every form of this session must send back.
	CSRF string `json:"csrf"`
	// Token identifies the admin token the session was opened with (an HMAC
	// of it, not the token): dropping that token from the deployment's
	// ends the session, and only the sessions opened with it.
	Token string `json:"tok"`
}

// sessions signs and checks session cookies.
type sessions struct {
	key    []byte
	tokens httpguard.AdminTokens
	ttl    time.Duration
	now    func() time.Time
	store  ports.ConsoleSessions
	logger *slog.Logger
}

func newSessions(secretsKey []byte, adminToken string, ttl time.Duration, now func() time.Time,
	store ports.ConsoleSessions, logger *slog.Logger) *sessions {
	key := make([]byte, 32)
	if len(secretsKey) == 0 {
		// No deployment key (a test): sessions last as long as the process.
		_, _ = rand.Read(key)
	} else {
		m := hmac.New(sha256.New, secretsKey)
		m.Write([]byte("callconnect console session key v1"))
		key = m.Sum(nil)
	}
	return &sessions{key: key, tokens: httpguard.ParseAdminTokens(adminToken), ttl: ttl, now: now, store: store, logger: logger}
}

func (s *sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// tokenID names an admin token without showing it.
func (s *sessions) tokenID(token string) string {
	return hex.EncodeToString(s.mac("admin token", token)[:12])
}

// checkToken compares a presented admin token with each configured one in
// constant time (httpguard.AdminTokens.Match) and names the one it is. No
// configured token accepts nothing.
func (s *sessions) checkToken(presented string) (tokenID string, ok bool) {
	tok, ok := s.tokens.Match(presented)
	if !ok {
		return "", false
	}
	return s.tokenID(tok), true
}

// storeID is the name of the session in the store: a hash of the cookie's
// id, so that reading the table opens no session.
func storeID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// open starts a session of the admin token tokenID names, recorded in the
// store, and returns its cookie value. The sessions that have expired meanwhile are deleted on the way,
// so the store holds no more than the sessions of one TTL.
func (s *sessions) open(ctx context.Context, tokenID string) (session, string, error) {
	now := s.now()
	sess := session{ID: randomToken(), Expires: now.Add(s.ttl).Unix(), CSRF: randomToken(), Token: tokenID}
	err := s.store.PutConsoleSession(ctx, ports.ConsoleSession{ID: storeID(sess.ID), TokenID: sess.Token,
		CreatedAt: now, ExpiresAt: time.Unix(sess.Expires, 0)})
	if err != nil {
		return session{}, "", fmt.Errorf("console: recording a new session: %w", err)
	}
	if n, err := s.store.DeleteConsoleSessionsExpiredBefore(ctx, now); err != nil {
		s.logger.WarnContext(ctx, "console: deleting expired sessions failed", "error", err)
	} else if n > 0 {
		s.logger.DebugContext(ctx, "console: expired sessions deleted", "sessions", n)
	}
	payload, _ := json.Marshal(sess)
	body := base64.RawURLEncoding.EncodeToString(payload)
	return sess, body + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", body)), nil
}

// close ends the session in the store, for every replica.
func (s *sessions) close(ctx context.Context, sess session) error {
	if err := s.store.DeleteConsoleSession(ctx, storeID(sess.ID)); err != nil {
		return fmt.Errorf("console: ending a session: %w", err)
	}
	return nil
}

// read returns the request's session, if it has a valid, unexpired one
// that the store still holds, opened with the current admin token. A store
// that cannot answer is logged and the request taken as signed out.
func (s *sessions) read(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	body, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", body)) {
		return session{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(payload, &sess) != nil || sess.CSRF == "" || sess.ID == "" {
		return session{}, false
	}
	now := s.now()
	if now.Unix() >= sess.Expires || !s.currentToken(sess.Token) {
		return session{}, false
	}
	stored, err := s.store.GetConsoleSession(r.Context(), storeID(sess.ID))
	if err != nil {
		if !errors.Is(err, ports.ErrNotFound) {
			s.logger.ErrorContext(r.Context(), "console: reading a session failed; the request is taken as signed out", "error", err)
		}
		return session{}, false
	}
	if !now.Before(stored.ExpiresAt) || !s.currentToken(stored.TokenID) {
		return session{}, false
	}
	return sess, true
}

// currentToken tells whether id names an admin token the deployment
// accepts now (each compared in constant time).
func (s *sessions) currentToken(id string) bool {
	found := 0
	for _, tok := range s.tokens.Tokens() {
		found |= subtle.ConstantTimeCompare([]byte(id), []byte(s.tokenID(tok)))
	}
	return found == 1
}

// randomToken is 128 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sameToken compares two CSRF tokens in constant time; empty never matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie builds one of the console's cookies: HttpOnly, SameSite=Strict,
// Secure when the console is served over https. maxAge < 0 deletes it.
func cookie(name, value string, maxAge int, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}
