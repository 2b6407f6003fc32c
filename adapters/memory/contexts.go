package memory

import (
	"context"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// GetClickContext reads what the PostgreSQL adapter reads in one query, from
// the transaction's state.
func (r *repositories) GetClickContext(ctx context.Context, envID, userID, leadID string) (ports.ClickContext, error) {
	env, err := r.GetEnvironment(ctx, envID)
	if err != nil {
		return ports.ClickContext{}, err
	}
	out := ports.ClickContext{Env: env}
	if u, ok := r.state.users[key{envID, userID}]; ok {
		out.User = &u
	}
	if l, ok := r.state.leads[key{envID, leadID}]; ok {
		out.Lead = &l
		out.OpenCallID, out.OpenCallDeadline = r.openCall(envID, userID, leadID)
		if out.Owners, err = r.GetUsers(ctx, envID, l.OwnerIDs()); err != nil {
			return ports.ClickContext{}, err
		}
	}
	if out.CallConnect, err = r.callConnect(ctx, envID); err != nil {
		return ports.ClickContext{}, err
	}
	return out, nil
}

// LockCallForDelivery needs no lock of its own, as LockCall.
func (r *repositories) LockCallForDelivery(ctx context.Context, envID, callID string) (ports.DeliveryContext, error) {
	call, err := r.LockCall(ctx, envID, callID)
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	env, err := r.GetEnvironment(ctx, envID) // a call's environment exists: PutCall requires it
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	cc, err := r.callConnect(ctx, envID)
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	return ports.DeliveryContext{Call: call, Env: env, CallConnect: cc}, nil
}

// callConnect returns the environment's Call Connect integration, nil when
// it has none.
func (r *repositories) callConnect(_ context.Context, envID string) (*domain.Integration, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	i, ok := r.state.integrations[key{envID, domain.ProviderCallConnect}]
	if !ok {
		return nil, nil
	}
	i = copyIntegration(i)
	return &i, nil
}

// openCall is the user's call to the lead still queued or delivering with
// the latest dispatch deadline, and that deadline, as GetClickContext's
// OpenCallID; "" when none.
func (r *repositories) openCall(envID, userID, leadID string) (string, time.Time) {
	var latest *domain.Call
	for _, c := range r.state.calls {
		if c.EnvID() != envID || c.UserID() != userID || c.LeadID() != leadID ||
			c.Status() != domain.CallQueued && c.Status() != domain.CallDelivering {
			continue
		}
		if latest == nil || c.Deadline().After(latest.Deadline()) || c.Deadline().Equal(latest.Deadline()) && c.ID() > latest.ID() {
			c := c
			latest = &c
		}
	}
	if latest == nil {
		return "", time.Time{}
	}
	return latest.ID(), latest.Deadline()
}

// LockClicks has nothing to do: the store runs one unit of work at a time.
func (r *repositories) LockClicks(context.Context, string, string, string) error {
	return r.check(true)
}
