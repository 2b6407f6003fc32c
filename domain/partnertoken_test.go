package domain_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"callconnect/domain"
)

var tokenSecret = bytes.Repeat([]byte{0xA5, 0x3C, 0xFF, 0x00}, 8) // 32 bytes

func TestNewPartnerToken(t *testing.T) {
	at := time.Date(2024, 3, 19, 12, 0, 0, 0, time.UTC)
	tok, plain, err := domain.NewPartnerToken("acme", "tk-1", " Parceiro@Example.com ", " Discador ", tokenSecret, at)
	if err != nil {
		t.Fatal(err)
	}
	secret := base64.RawURLEncoding.EncodeToString(tokenSecret)
	if plain != "cct_tk-1_"+secret {
		t.Fatalf("plaintext %q", plain)
	}
	if tok.EnvID() != "acme" || tok.ID() != "tk-1" || tok.Email() != "Parceiro@Example.com" ||
		tok.Description() != "Discador" || !tok.CreatedAt().Equal(at) || tok.Revoked() || tok.RevokedAt() != nil {
		t.Errorf("accessors: %+v", tok)
	}
	if tok.Hash() != sha256.Sum256([]byte(secret)) {
		t.Error("Hash is not the SHA-256 of the secret part")
	}

	id, presented, ok := domain.ParsePartnerTokenString(plain)
	if !ok || id != "tk-1" || presented != secret {
		t.Fatalf("ParsePartnerTokenString(%q) = %q, %q, %v", plain, id, presented, ok)
	}
	matches := []struct {
		email, secret string
		want          bool
	}{
		{"Parceiro@Example.com", secret, true},
		{"parceiro@example.com", secret, true},
		{" PARCEIRO@EXAMPLE.COM ", secret, true},
		{"outro@example.com", secret, false},
		{"", secret, false},
		{"parceiro@example.com", secret[:len(secret)-1], false},
		{"parceiro@example.com", secret + "A", false},
		{"parceiro@example.com", "", false},
		{"parceiro@example.com", plain, false}, // the whole token is not the secret
	}
	for _, m := range matches {
		if got := tok.Matches(m.email, m.secret); got != m.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", m.email, m.secret, got, m.want)
		}
	}

	revokedAt := at.Add(time.Hour)
	tok.Revoke(revokedAt)
	tok.Revoke(revokedAt.Add(time.Hour)) // the first revocation stands
	if !tok.Revoked() || !tok.RevokedAt().Equal(revokedAt) {
		t.Errorf("revoked at %v", tok.RevokedAt())
	}
	if tok.Matches("parceiro@example.com", secret) {
		t.Error("a revoked token still matches")
	}

	restored := domain.RestorePartnerToken("acme", "tk-1", "Parceiro@Example.com", "Discador", tok.Hash(), at, nil)
	if !restored.Matches("parceiro@example.com", secret) {
		t.Error("a restored token does not match")
	}
	gone := domain.RestorePartnerToken("acme", "tk-1", "Parceiro@Example.com", "", tok.Hash(), at, &revokedAt)
	if !gone.Revoked() || gone.Matches("parceiro@example.com", secret) {
		t.Error("a restored revoked token matches")
	}

	// Different secrets, different tokens.
	other := bytes.Repeat([]byte{1}, 32)
	tok2, plain2, _ := domain.NewPartnerToken("acme", "tk-2", "p@example.com", "", other, at)
	if plain2 == plain || tok2.Hash() == tok.Hash() {
		t.Error("two secrets gave the same token")
	}
	long := bytes.Repeat([]byte{7}, 64)
	if _, plain, err := domain.NewPartnerToken("acme", "tk-3", "p@example.com", "", long, at); err != nil {
		t.Errorf("a 64-byte secret: %v", err)
	} else if _, _, ok := domain.ParsePartnerTokenString(plain); !ok {
		t.Errorf("%q does not parse", plain)
	}
}

func TestNewPartnerTokenRefusals(t *testing.T) {
	at := time.Unix(100, 0)
	tests := []struct {
		field                string
		env, id, email, desc string
		secret               []byte
		createdAt            time.Time
	}{
		{"env", "", "tk", "p@example.com", "", tokenSecret, at},
		{"id", "acme", "", "p@example.com", "", tokenSecret, at},
		{"id", "acme", "tk_1", "p@example.com", "", tokenSecret, at},
		{"id", "acme", "tk.1", "p@example.com", "", tokenSecret, at},
		{"id", "acme", strings.Repeat("a", 33), "p@example.com", "", tokenSecret, at},
		{"email", "acme", "tk", "", "", tokenSecret, at},
		{"email", "acme", "tk", "parceiro", "", tokenSecret, at},
		{"email", "acme", "tk", "Parceiro <p@example.com>", "", tokenSecret, at},
		{"description", "acme", "tk", "p@example.com", strings.Repeat("d", 201), tokenSecret, at},
		{"description", "acme", "tk", "p@example.com", "a\x00b", tokenSecret, at},
		{"secret", "acme", "tk", "p@example.com", "", tokenSecret[:31], at},
		{"secret", "acme", "tk", "p@example.com", "", nil, at},
		{"secret", "acme", "tk", "p@example.com", "", make([]byte, 97), at},
		{"created_at", "acme", "tk", "p@example.com", "", tokenSecret, time.Time{}},
	}
	for _, tt := range tests {
		_, plain, err := domain.NewPartnerToken(tt.env, tt.id, tt.email, tt.desc, tt.secret, tt.createdAt)
		wantInvalid(t, err, tt.field)
		if plain != "" {
			t.Errorf("plaintext %q returned with an error", plain)
		}
	}
}

func TestParsePartnerTokenString(t *testing.T) {
	secret := base64.RawURLEncoding.EncodeToString(tokenSecret)
	ok := map[string][2]string{
		"cct_tk-1_" + secret:         {"tk-1", secret},
		" cct_tk-1_" + secret + "\t": {"tk-1", secret},
		"cct_a_b_c-d":                {"a", "b_c-d"}, // the secret may hold '_'
		"cct_ABC_" + secret[:10]:     {"ABC", secret[:10]},
	}
	for in, want := range ok {
		id, sec, good := domain.ParsePartnerTokenString(in)
		if !good || id != want[0] || sec != want[1] {
			t.Errorf("ParsePartnerTokenString(%q) = %q, %q, %v", in, id, sec, good)
		}
	}
	bad := []string{"", "cct_", "cct_tk", "cct_tk_", "cct__" + secret, "CCT_tk_" + secret, "tk_" + secret,
		"Bearer cct_tk_" + secret, "cct_tk_" + secret + "=", "cct_tk_" + secret + "+", "cct_t.k_" + secret,
		"cct_tk_" + secret + " x", "cct_tk_" + strings.Repeat("a", 129), "cct_" + strings.Repeat("a", 33) + "_x"}
	for _, in := range bad {
		if id, sec, good := domain.ParsePartnerTokenString(in); good || id != "" || sec != "" {
			t.Errorf("ParsePartnerTokenString(%q) = %q, %q, %v", in, id, sec, good)
		}
	}
}

func FuzzParsePartnerTokenString(f *testing.F) {
	for _, s := range []string{"cct_tk-1_" + base64.RawURLEncoding.EncodeToString(tokenSecret), "cct_a_b", "cct__", "", "cct_x_é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := domain.ParsePartnerTokenString(s)
		if !ok {
			if id != "" || secret != "" {
				t.Fatal("parts returned for a refused token")
			}
			return
		}
		if !domain.ValidID(id) || strings.Contains(id, "_") || secret == "" || len(secret) > domain.MaxPartnerSecretLength {
			t.Fatalf("ParsePartnerTokenString(%q) = %q, %q", s, id, secret)
		}
		if again := "cct_" + id + "_" + secret; again != strings.TrimSpace(s) {
			t.Fatalf("%q parsed to parts that rebuild %q", s, again)
		}
	})
}
