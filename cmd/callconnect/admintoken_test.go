package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// serveEnv is what serving needs, with the admin token given.
func serveEnv(adminToken string) func(string) string {
	return envOf(map[string]string{"DATABASE_URL": "postgres://x", "CALLCONNECT_ADMIN_TOKEN": adminToken,
		"CALLCONNECT_SECRETS_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
}

func requireServe(t *testing.T, adminToken string) error {
	t.Helper()
	c, err := LoadConfig(serveEnv(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	return c.RequireServe()
}

// An admin token must hold 32 random bytes' worth: start-up refuses a
// weaker one, saying how to make one, and never shows the token.
func TestAdminTokenStrength(t *testing.T) {
	const b64 = "wISLHmVAYrdDhi0r_NqG8rk2vcCAsetXtf-p6OU3WRo"
	const hex64 = "9f2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e"
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"32 bytes in base64url", b64, true},
		{"32 bytes in base64, padded", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", true},
		{"32 bytes in hex", hex64, true},
		{"32 bytes in upper-case hex", strings.ToUpper(hex64), true},
		{"two strong tokens", b64 + "," + hex64, true},
		{"spaces around them", " " + b64 + " , " + hex64 + " ", true},
		{"none", "", false},
		{"only commas", " , ", false},
		{"16 characters, the old minimum", "0123456789abcdef", false},
		{"31 bytes in hex", hex64[:62], false},
		{"42 characters of base64", b64[:42], false},
		{"a long run of one character", strings.Repeat("a", 200), false},
		{"a few characters repeated", strings.Repeat("abc123", 20), false},
		{"a strong token and a weak one", b64 + ",changeme-please", false},
		{"a phrase", "correct horse battery staple", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := requireServe(t, tc.token)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, "CALLCONNECT_ADMIN_TOKEN:") || !strings.Contains(msg, "head -c 32 /dev/urandom | base64") {
				t.Fatalf("the error does not name the variable or say how to make a token: %s", msg)
			}
			for _, tok := range strings.Split(tc.token, ",") {
				if tok = strings.TrimSpace(tok); len(tok) > 3 && strings.Contains(msg, tok) {
					t.Fatalf("the error shows the token: %s", msg)
				}
			}
		})
	}
}

// Any 32 random bytes, in the encodings people make tokens with, pass.
func TestRandomAdminTokensPass(t *testing.T) {
	for range 2000 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
			base64.RawURLEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b)} {
			if why := adminTokenWeakness(tok); why != "" {
				t.Fatalf("%s: %s", tok, why)
			}
		}
	}
}

// Whatever its characters, a token shorter than 39 (what 256 bits need
// from printable ASCII) or of fewer than 8 distinct characters is refused.
func TestShortOrRepetitiveAdminTokensRefused(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		short := rapid.StringMatching(`[ -~]{1,38}`).Draw(t, "short")
		if adminTokenWeakness(short) == "" {
			t.Fatalf("%q accepted", short)
		}
		var printable []rune
		for r := ' '; r <= '~'; r++ {
			printable = append(printable, r)
		}
		chars := rapid.SliceOfNDistinct(rapid.RuneFrom(printable), 1, 7, rapid.ID[rune]).Draw(t, "chars")
		idx := rapid.SliceOfN(rapid.IntRange(0, len(chars)-1), 1, 300).Draw(t, "text")
		var b strings.Builder
		for _, i := range idx {
			b.WriteRune(chars[i])
		}
		if adminTokenWeakness(b.String()) == "" {
			t.Fatalf("%q accepted", b.String())
		}
	})
}

// The token make run generates passes: the Makefile's own command, run.
func TestMakeRunAdminTokenPasses(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\(umask 077; (head -c 32 /dev/urandom[^>]*)> \$\(DATA_DIR\)/admin-token\)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile no longer makes .data/admin-token as this test expects")
	}
	for range 20 {
		out, err := exec.Command("sh", "-c", string(m[1])).Output()
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		if err := checkAdminTokens(string(out)); err != nil {
			t.Fatalf("make run's token %q: %v", out, err)
		}
	}
}
