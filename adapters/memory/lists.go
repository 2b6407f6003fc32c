package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// checkLimit refuses what PostgreSQL's adapter refuses: a listing without a
// positive limit.
func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("memory: a listing needs a positive limit, got %d", limit)
	}
	return nil
}

func (r *repositories) ListEnvironments(_ context.Context, after string, limit int) ([]domain.Environment, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	var out []domain.Environment
	for id, e := range r.state.environments {
		if id > after {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b domain.Environment) int { return strings.Compare(a.ID(), b.ID()) })
	return out[:min(limit, len(out))], nil
}

func (r *repositories) ListIntegrationManagers(_ context.Context, envID string, limit int) ([]domain.User, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	var out []domain.User
	for k, u := range r.state.users {
		if k.env == envID && u.CanManageIntegrations() {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b domain.User) int { return strings.Compare(a.ID(), b.ID()) })
	return out[:min(limit, len(out))], nil
}

func (r *repositories) ListCalls(_ context.Context, envID string, f ports.CallFilter) ([]domain.Call, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	if err := checkLimit(f.Limit); err != nil {
		return nil, err
	}
	var out []domain.Call
	for k, c := range r.state.calls {
		if k.env != envID || f.Status != "" && listedStatus(c, f) != f.Status || f.LeadID != "" && c.LeadID() != f.LeadID ||
			f.UserID != "" && c.UserID() != f.UserID || !f.From.IsZero() && c.ClickedAt().Before(f.From) ||
			!f.To.IsZero() && !c.ClickedAt().Before(f.To) {
			continue
		}
		if f.Before != nil && newerFirst(c, f.Before.ClickedAt, f.Before.ID) <= 0 {
			continue // not older than the cursor
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b domain.Call) int { return newerFirst(a, b.ClickedAt(), b.ID()) })
	return out[:min(f.Limit, len(out))], nil
}

// listedStatus is the status ListCalls filters c by: a delivered call
// accepted at or before f.NoResultAcceptedBy counts as no_result.
func listedStatus(c domain.Call, f ports.CallFilter) domain.CallStatus {
	if c.Status() == domain.CallDelivered && !f.NoResultAcceptedBy.IsZero() && !c.DeliveredAt().IsZero() &&
		!c.DeliveredAt().After(f.NoResultAcceptedBy) {
		return domain.CallNoResult
	}
	return c.Status()
}

// newerFirst orders c against the position (at, id) newest first: negative
// when c comes before it (clicked later, or at the same time with a greater id).
func newerFirst(c domain.Call, at time.Time, id string) int {
	if n := c.ClickedAt().Compare(at); n != 0 {
		return -n
	}
	return -cmp.Compare(c.ID(), id)
}
