package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Cookie names. The session cookie is scoped to the console's path.
const (
	sessionCookie = "callconnect_console"
	signInCookie  = "callconnect_console_signin"
	cookiePath    = Path
)

// session is what the signed session cookie carries. Nothing is stored on
// the server: the cookie is its own proof (HMAC-SHA256 under a key derived
// from the deployment's secrets key), so any replica can check it.
type session struct {
	// Expires is when the session ends, Unix seconds.
	Expires int64 `json:"exp"`
	// CSRF is the token every form of this session must send back.
	CSRF string `json:"csrf"`
	// Token identifies the admin token the session was opened with (an HMAC
	// of it, not the token): changing the admin token ends every session.
	Token string `json:"tok"`
}

// sessions signs and checks session cookies.
type sessions struct {
	key   []byte
	token string // the admin token
	ttl   time.Duration
	now   func() time.Time
}

func newSessions(secretsKey []byte, adminToken string, ttl time.Duration, now func() time.Time) *sessions {
	key := make([]byte, 32)
	if len(secretsKey) == 0 {
		// No deployment key (a test): sessions last as long as the process.
		_, _ = rand.Read(key)
	} else {
		m := hmac.New(sha256.New, secretsKey)
		m.Write([]byte("callconnect console session key v1"))
		key = m.Sum(nil)
	}
	return &sessions{key: key, token: adminToken, ttl: ttl, now: now}
}

func (s *sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (s *sessions) tokenID() string { return hex.EncodeToString(s.mac("admin token", s.token)[:12]) }

// checkToken compares a presented admin token with the configured one in
// constant time (both hashed first, so the length does not leak either).
// An empty configured token accepts nothing.
func (s *sessions) checkToken(presented string) bool {
	want := sha256.Sum256([]byte(s.token))
	got := sha256.Sum256([]byte(presented))
	return s.token != "" && subtle.ConstantTimeCompare(want[:], got[:]) == 1
}

// open starts a session and returns its cookie value.
func (s *sessions) open() (session, string) {
	sess := session{Expires: s.now().Add(s.ttl).Unix(), CSRF: randomToken(), Token: s.tokenID()}
	payload, _ := json.Marshal(sess)
	body := base64.RawURLEncoding.EncodeToString(payload)
	return sess, body + "." + base64.RawURLEncoding.EncodeToString(s.mac("session", body))
}

// read returns the request's session, if it has a valid, unexpired one.
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
	if json.Unmarshal(payload, &sess) != nil || sess.CSRF == "" {
		return session{}, false
	}
	if s.now().Unix() >= sess.Expires || subtle.ConstantTimeCompare([]byte(sess.Token), []byte(s.tokenID())) != 1 {
		return session{}, false
	}
	return sess, true
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
