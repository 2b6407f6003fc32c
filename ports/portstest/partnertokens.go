package portstest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// tokenCreatedAt has a microsecond part and a zone other than UTC.
var tokenCreatedAt = time.Date(2026, 4, 1, 9, 30, 0, 250001000, saoPaulo)

// newToken is a fresh token as the app creates it, with its plaintext.
func newToken(t *testing.T, envID, id string, createdAt time.Time) (domain.PartnerToken, string) {
	t.Helper()
	secret := bytes.Repeat([]byte{byte(len(id)), 0xa5}, domain.MinPartnerSecretBytes/2)
	tok, plain, err := domain.NewPartnerToken(envID, id, "Parceiro.Telefonia@Example.com", "Telefonia "+id, secret, createdAt)
	if err != nil {
		t.Fatalf("NewPartnerToken: %v", err)
	}
	return tok, plain
}

// revokedToken has no description, a hash with every byte value class and
// a revocation time in another zone.
func revokedToken(envID, id string) domain.PartnerToken {
	var hash [32]byte
	for n := range hash {
		hash[n] = byte(n*37 + 1)
	}
	hash[0], hash[31] = 0x00, 0xff
	revoked := time.Date(2026, 4, 2, 18, 0, 0, 999999000, manaus)
	return domain.RestorePartnerToken(envID, id, "ops@example.com", "", hash, tokenCreatedAt.Add(-time.Hour), &revoked)
}

func tokenString(tok domain.PartnerToken) string {
	hash := tok.Hash()
	return fmt.Sprintf("{env:%q id:%q email:%q description:%q hash:%s created_at:%s revoked_at:%s}",
		tok.EnvID(), tok.ID(), tok.Email(), tok.Description(), hex.EncodeToString(hash[:]), instant(tok.CreatedAt()),
		timeString(tok.RevokedAt()))
}

func wantTokens(t *testing.T, what string, got []domain.PartnerToken, want ...domain.PartnerToken) {
	t.Helper()
	wantList(t, what, tokenString, got, want)
}

func getPartnerToken(t *testing.T, s ports.Store, id string) (tok domain.PartnerToken, err error) {
	t.Helper()
	read(t, s, func(ctx context.Context, r ports.Repositories) error {
		tok, err = r.GetPartnerToken(ctx, id)
		return nil
	})
	return tok, err
}

func listPartnerTokens(t *testing.T, s ports.Store, envID string) []domain.PartnerToken {
	t.Helper()
	var list []domain.PartnerToken
	read(t, s, func(ctx context.Context, r ports.Repositories) (err error) {
		list, err = r.ListPartnerTokens(ctx, envID)
		return err
	})
	return list
}

func testPartnerTokenRoundTrip(t *testing.T, s ports.Store) {
	fresh, plain := newToken(t, "env-1", "tok-a", tokenCreatedAt)
	revoked := revokedToken("env-1", "tok-B")
	put(t, s, environment(t, "env-1"), fresh, revoked)
	for _, want := range []domain.PartnerToken{fresh, revoked} {
		got, err := getPartnerToken(t, s, want.ID())
		if err != nil {
			t.Fatalf("GetPartnerToken(%s): %v", want.ID(), err)
		}
		wantTokens(t, "GetPartnerToken("+want.ID()+")", []domain.PartnerToken{got}, want)
	}
	// The stored hash still authenticates the plaintext shown once.
	got, err := getPartnerToken(t, s, "tok-a")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, ok := domain.ParsePartnerTokenString(plain)
	if !ok || !got.Matches("parceiro.telefonia@example.com", secret) || got.Matches(got.Email(), secret+"x") {
		t.Errorf("the stored token does not authenticate its plaintext (and only it)")
	}

	// Revoking is a Put of the revoked token: it replaces the row.
	got.Revoke(tokenCreatedAt.Add(36 * time.Hour))
	put(t, s, got)
	again, err := getPartnerToken(t, s, "tok-a")
	if err != nil {
		t.Fatal(err)
	}
	wantTokens(t, "GetPartnerToken after revoking", []domain.PartnerToken{again}, got)
	if !again.Revoked() || again.Matches(again.Email(), secret) {
		t.Errorf("a revoked token still authenticates: %s", tokenString(again))
	}
}

func testPartnerTokenAcrossEnvironments(t *testing.T, s ports.Store) {
	a, _ := newToken(t, "env-a", "t1", tokenCreatedAt)
	b, _ := newToken(t, "env-b", "t2", tokenCreatedAt)
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), a, b)
	for _, want := range []domain.PartnerToken{a, b} {
		got, err := getPartnerToken(t, s, want.ID())
		if err != nil {
			t.Fatalf("GetPartnerToken(%s): %v", want.ID(), err)
		}
		wantTokens(t, "GetPartnerToken names the token's environment", []domain.PartnerToken{got}, want)
	}
	for _, id := range []string{"missing", "T1", "t1 "} {
		_, err := getPartnerToken(t, s, id)
		wantNotFound(t, fmt.Sprintf("GetPartnerToken(%q)", id), err)
	}

	// Ids are global: another environment cannot take one.
	thief := revokedToken("env-b", "t1")
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutPartnerToken(ctx, thief) })
	if err == nil {
		t.Error("PutPartnerToken with the id of another environment's token succeeded")
	}
	if got, err := getPartnerToken(t, s, "t1"); err != nil {
		t.Errorf("GetPartnerToken(t1) after the refused Put: %v", err)
	} else {
		wantTokens(t, "t1 after another environment tried its id", []domain.PartnerToken{got}, a)
	}
	wantTokens(t, "env-b's tokens after the refused Put", listPartnerTokens(t, s, "env-b"), b)

	orphan, _ := newToken(t, "env-missing", "t3", tokenCreatedAt)
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutPartnerToken(ctx, orphan) })
	wantNotFound(t, "PutPartnerToken in a missing environment", err)
	_, err = getPartnerToken(t, s, "t3")
	wantNotFound(t, "GetPartnerToken after a refused Put", err)
}

func testPartnerTokenList(t *testing.T, s ports.Store) {
	oldest, _ := newToken(t, "env-a", "old", tokenCreatedAt)
	// Two tokens at the same instant (written in other zones): the id
	// decides, in byte order descending ("b" before "C").
	tieC, _ := newToken(t, "env-a", "C", tokenCreatedAt.Add(time.Second).In(time.UTC))
	tieB, _ := newToken(t, "env-a", "b", tokenCreatedAt.Add(time.Second).In(manaus))
	newest := revokedToken("env-a", "new")
	newest = domain.RestorePartnerToken("env-a", "new", newest.Email(), "", newest.Hash(), tokenCreatedAt.Add(time.Minute), newest.RevokedAt())
	other, _ := newToken(t, "env-b", "other", tokenCreatedAt.Add(time.Hour))
	put(t, s, environment(t, "env-a"), environment(t, "env-b"), environment(t, "env-c"), tieC, oldest, other, newest, tieB)

	wantTokens(t, "ListPartnerTokens(env-a), newest first, revoked included", listPartnerTokens(t, s, "env-a"),
		newest, tieB, tieC, oldest)
	wantTokens(t, "ListPartnerTokens(env-b)", listPartnerTokens(t, s, "env-b"), other)
	wantTokens(t, "ListPartnerTokens(env-c), without tokens", listPartnerTokens(t, s, "env-c"))
	wantTokens(t, "ListPartnerTokens of a missing environment", listPartnerTokens(t, s, "env-missing"))
}
