package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"callconnect/domain"
	"callconnect/ports"
)

// FindLeadsMatchingPhone compares each lead's domain.Phone.MatchKey; ordered
// by id, as the PostgreSQL adapter.
func (r *repositories) FindLeadsMatchingPhone(_ context.Context, envID string, phone domain.Phone) ([]domain.Lead, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	key := phone.MatchKey()
	return r.findLeads(envID, func(l domain.Lead) bool {
		return key != "" && l.Phone().MatchKey() == key
	}), nil
}

// FindLeadsByEmail compares lowercased e-mails, as PostgreSQL's lower() does.
func (r *repositories) FindLeadsByEmail(_ context.Context, envID, email string) ([]domain.Lead, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	email = strings.ToLower(email)
	return r.findLeads(envID, func(l domain.Lead) bool {
		return email != "" && l.Email() != "" && strings.ToLower(l.Email()) == email
	}), nil
}

func (r *repositories) findLeads(envID string, match func(domain.Lead) bool) []domain.Lead {
	var out []domain.Lead
	for k, l := range r.state.leads {
		if k.env == envID && match(l) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b domain.Lead) int { return cmp.Compare(a.ID(), b.ID()) })
	return out
}

// LatestOpenCall picks the newest call by click time, then id.
func (r *repositories) LatestOpenCall(_ context.Context, envID, leadID string) (domain.Call, error) {
	if err := r.check(false); err != nil {
		return domain.Call{}, err
	}
	var latest domain.Call
	found := false
	for k, c := range r.state.calls {
		if k.env != envID || c.LeadID() != leadID || c.Status() == domain.CallCompleted || c.Status() == domain.CallNotCompleted {
			continue
		}
		if !found || c.ClickedAt().After(latest.ClickedAt()) || c.ClickedAt().Equal(latest.ClickedAt()) && c.ID() > latest.ID() {
			latest, found = c, true
		}
	}
	if !found {
		return domain.Call{}, fmt.Errorf("memory: open call of lead %q of environment %q: %w", leadID, envID, ports.ErrNotFound)
	}
	return latest, nil
}

// PutPartnerToken inserts or replaces the token in its environment; an id
// another environment's token holds is refused (ids are global).
func (r *repositories) PutPartnerToken(_ context.Context, t domain.PartnerToken) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(t.EnvID()); err != nil {
		return err
	}
	if old, ok := r.state.tokens[t.ID()]; ok && old.EnvID() != t.EnvID() {
		return fmt.Errorf("memory: partner token id %q is taken by another environment's token", t.ID())
	}
	r.state.tokens[t.ID()] = domain.RestorePartnerToken(t.EnvID(), t.ID(), t.Email(), t.Description(), t.Hash(),
		t.CreatedAt().Truncate(time.Microsecond), truncate(t.RevokedAt()))
	return nil
}

func (r *repositories) GetPartnerToken(_ context.Context, id string) (domain.PartnerToken, error) {
	if err := r.check(false); err != nil {
		return domain.PartnerToken{}, err
	}
	t, ok := r.state.tokens[id]
	if !ok {
		return domain.PartnerToken{}, fmt.Errorf("memory: partner token %q: %w", id, ports.ErrNotFound)
	}
	return t, nil
}

// ListPartnerTokens orders newest first, then by id descending.
func (r *repositories) ListPartnerTokens(_ context.Context, envID string) ([]domain.PartnerToken, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.PartnerToken
	for _, t := range r.state.tokens {
		if t.EnvID() == envID {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b domain.PartnerToken) int {
		return cmp.Or(b.CreatedAt().Compare(a.CreatedAt()), cmp.Compare(b.ID(), a.ID()))
	})
	return out, nil
}

// storedInteraction keeps the fingerprint of the interaction as it was
// added, as the PostgreSQL adapter's column does.
type storedInteraction struct {
	interaction domain.Interaction
	fingerprint string
}

// AddInteraction stores a copy with its times cut to the microsecond; an id
// the environment already has is refused.
func (r *repositories) AddInteraction(_ context.Context, i domain.Interaction) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(i.EnvID()); err != nil {
		return err
	}
	k := key{i.EnvID(), i.ID()}
	if _, ok := r.state.interactions[k]; ok {
		return fmt.Errorf("memory: interaction %q of environment %q already exists", i.ID(), i.EnvID())
	}
	in := i.Input()
	in.OccurredAt = in.OccurredAt.Truncate(time.Microsecond)
	if in.Task != nil {
		in.Task.DueAt = truncate(in.Task.DueAt)
	}
	stored, err := domain.NewInteraction(in)
	if err != nil {
		return fmt.Errorf("memory: interaction %q: %w", i.ID(), err)
	}
	r.state.interactions[k] = storedInteraction{interaction: stored, fingerprint: i.Fingerprint()}
	r.interactionAdded(stored)
	return nil
}

// ListInteractions orders newest first, then by id descending (byte order).
func (r *repositories) ListInteractions(_ context.Context, envID, leadID string) ([]domain.Interaction, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	var out []domain.Interaction
	for k, s := range r.state.interactions {
		if k.env == envID && s.interaction.LeadID() == leadID {
			out = append(out, s.interaction)
		}
	}
	slices.SortFunc(out, func(a, b domain.Interaction) int {
		return cmp.Or(b.OccurredAt().Compare(a.OccurredAt()), cmp.Compare(b.ID(), a.ID()))
	})
	return out, nil
}

// LatestCallRecording walks the lead's history in ListInteractions' order.
// An empty callID matches nothing, as the PostgreSQL adapter's NULL does not.
func (r *repositories) LatestCallRecording(ctx context.Context, envID, leadID, callID string) (string, error) {
	history, err := r.ListInteractions(ctx, envID, leadID)
	if err != nil {
		return "", err
	}
	for _, in := range history {
		if callID != "" && in.CallID() == callID && in.RecordingID() != "" {
			return in.RecordingID(), nil
		}
	}
	return "", fmt.Errorf("memory: recording of call %q of lead %q of environment %q: %w", callID, leadID, envID, ports.ErrNotFound)
}

func (r *repositories) HasInteraction(_ context.Context, envID, leadID, fingerprint string) (bool, error) {
	if err := r.check(false); err != nil {
		return false, err
	}
	for k, s := range r.state.interactions {
		if k.env == envID && s.interaction.LeadID() == leadID && s.fingerprint == fingerprint {
			return true, nil
		}
	}
	return false, nil
}

// PutRecording inserts or replaces the recording, its time cut to the microsecond.
func (r *repositories) PutRecording(_ context.Context, rec domain.Recording) error {
	if err := r.check(true); err != nil {
		return err
	}
	if err := r.requireEnvironment(rec.EnvID()); err != nil {
		return err
	}
	in := rec.Input()
	in.CreatedAt = in.CreatedAt.Truncate(time.Microsecond)
	stored, err := domain.NewRecording(in)
	if err != nil {
		return fmt.Errorf("memory: recording %q: %w", rec.ID(), err)
	}
	r.state.recordings[key{rec.EnvID(), rec.ID()}] = stored
	return nil
}

func (r *repositories) GetRecording(_ context.Context, envID, id string) (domain.Recording, error) {
	if err := r.check(false); err != nil {
		return domain.Recording{}, err
	}
	rec, ok := r.state.recordings[key{envID, id}]
	if !ok {
		return domain.Recording{}, fmt.Errorf("memory: recording %q of environment %q: %w", id, envID, ports.ErrNotFound)
	}
	return rec, nil
}

// LockRecordingContent needs no lock of its own: transactions of the
// memory store already run one at a time.
func (r *repositories) LockRecordingContent(_ context.Context, _ string) error {
	return r.check(true)
}

func (r *repositories) ReferencedAudio(_ context.Context, sha256s []string) ([]string, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	wanted := make(map[string]bool, len(sha256s))
	for _, sha := range sha256s {
		wanted[sha] = true
	}
	var out []string
	for _, rec := range r.state.recordings {
		if sha := rec.SHA256(); wanted[sha] {
			out = append(out, sha)
			delete(wanted, sha) // each once
		}
	}
	return out, nil
}

func (r *repositories) RecordingsWithSHA256(_ context.Context, sha256 string) (int, error) {
	if err := r.check(false); err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range r.state.recordings {
		if rec.SHA256() == sha256 {
			n++
		}
	}
	return n, nil
}

// answerKey names an idempotent answer.
type answerKey struct{ scope, key string }

func (r *repositories) GetIdempotentAnswer(_ context.Context, scope, key string) (ports.IdempotentAnswer, error) {
	if err := r.check(false); err != nil {
		return ports.IdempotentAnswer{}, err
	}
	a, ok := r.state.answers[answerKey{scope, key}]
	if !ok {
		return ports.IdempotentAnswer{}, fmt.Errorf("memory: idempotency key %q of %q: %w", key, scope, ports.ErrNotFound)
	}
	a.Body = bytes.Clone(a.Body)
	return a, nil
}

// PutIdempotentAnswer stores a copy of a unless the key holds an answer that
// is not expired at a.CreatedAt. Transactions take turns, so the loser of a
// concurrent first use finds the winner's answer, as with PostgreSQL.
func (r *repositories) PutIdempotentAnswer(_ context.Context, a ports.IdempotentAnswer) error {
	if err := r.check(true); err != nil {
		return err
	}
	switch {
	case a.Scope == "" || a.Key == "":
		return fmt.Errorf("memory: an idempotent answer needs a scope and a key, got %q and %q", a.Scope, a.Key)
	case !storable(a.Scope) || !storable(a.Key) || !storable(a.RequestHash):
		return fmt.Errorf("memory: idempotency key %q: text PostgreSQL cannot hold", a.Key)
	case a.StatusCode < 100 || a.StatusCode > 999:
		return fmt.Errorf("memory: idempotency key %q: status code %d out of range", a.Key, a.StatusCode)
	case a.CreatedAt.IsZero():
		return fmt.Errorf("memory: idempotency key %q: the answer has no time", a.Key)
	}
	a.CreatedAt = a.CreatedAt.Truncate(time.Microsecond)
	k := answerKey{a.Scope, a.Key}
	if old, ok := r.state.answers[k]; ok && old.CreatedAt.After(a.CreatedAt.Add(-ports.IdempotencyRetention)) {
		return fmt.Errorf("memory: idempotency key %q of %q: %w", a.Key, a.Scope, ports.ErrIdempotencyConflict)
	}
	a.Body = bytes.Clone(a.Body)
	if a.Body == nil {
		a.Body = []byte{}
	}
	r.state.answers[k] = a
	return nil
}

// storable reports whether a text column accepts s.
func storable(s string) bool { return utf8.ValidString(s) && !strings.Contains(s, "\x00") }

var _ ports.IdempotencyExpiry = (*Store)(nil)

// DeleteIdempotencyKeysBefore deletes up to limit answers stored before
// cutoff, the oldest first, in one transaction, as the PostgreSQL store
// does, and says how many.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("memory: deleting expired idempotency keys: the limit must be positive, got %d", limit)
	}
	var n int64
	err := s.tx(ctx, func(_ context.Context, r *repositories) error {
		var expired []answerKey
		for k, a := range r.state.answers {
			if a.CreatedAt.Before(cutoff) {
				expired = append(expired, k)
			}
		}
		slices.SortFunc(expired, func(a, b answerKey) int {
			return r.state.answers[a].CreatedAt.Compare(r.state.answers[b].CreatedAt)
		})
		for _, k := range expired[:min(limit, len(expired))] {
			delete(r.state.answers, k)
			n++
		}
		return nil
	})
	return n, err
}
