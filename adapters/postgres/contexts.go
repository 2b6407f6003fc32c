package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

// GetClickContext reads the environment, its Call Connect integration, the
// lead and the users among the clicking one and the lead's owners in one
// query: a row per user found, the rest repeated on each.
func (r *repositories) GetClickContext(ctx context.Context, envID, userID, leadID string) (ports.ClickContext, error) {
	rows, err := r.q.GetClickContext(ctx, gen.GetClickContextParams{
		EnvID: envID, UserID: userID, LeadID: leadID, Provider: domain.ProviderCallConnect})
	if err != nil {
		return ports.ClickContext{}, fmt.Errorf("postgres: reading the click context of environment %q: %w", envID, err)
	}
	if len(rows) == 0 {
		return ports.ClickContext{}, notFound(pgx.ErrNoRows, fmt.Sprintf("environment %q", envID))
	}
	first := rows[0]
	out := ports.ClickContext{OpenCallID: first.OpenCallID}
	if out.OpenCallID != "" {
		out.OpenCallDeadline = first.OpenCallDeadline
	}
	if out.Env, err = environmentFromRow(first.Environment); err != nil {
		return ports.ClickContext{}, err
	}
	if out.CallConnect, err = r.integrationFromColumns(envID, integrationColumns{first.IntegrationProvider, first.IntegrationActive,
		first.IntegrationPartnerUrl, first.IntegrationDialMode, first.IntegrationSigningSecrets}); err != nil {
		return ports.ClickContext{}, err
	}
	if first.LeadID != nil {
		lead, err := leadFromRow(gen.Lead{EnvID: envID, ID: *first.LeadID, Name: deref(first.LeadName),
			Email: first.LeadEmail, Phone: first.LeadPhone, Score: first.LeadScore, RegisteredAt: first.LeadRegisteredAt,
			MainMedia: first.LeadMainMedia, Origin: first.LeadOrigin, StageID: first.LeadStageID, StageName: first.LeadStageName,
			Developments: first.LeadDevelopments, ManagerID: first.LeadManagerID, BrokerID: first.LeadBrokerID, AgencyID: first.LeadAgencyID})
		if err != nil {
			return ports.ClickContext{}, err
		}
		out.Lead = &lead
	}
	for _, row := range rows {
		if row.UserID == nil {
			continue
		}
		u, err := userFromRow(gen.User{EnvID: envID, ID: *row.UserID, Name: deref(row.UserName), Role: deref(row.UserRole),
			Phone: row.UserPhone, Extension: row.UserExtension, AgencyID: row.UserAgencyID,
			CanManageIntegrations: row.UserCanManageIntegrations != nil && *row.UserCanManageIntegrations})
		if err != nil {
			return ports.ClickContext{}, err
		}
		if u.ID() == userID {
			out.User = &u
		}
		if out.Lead != nil && isOwner(*out.Lead, u.ID()) {
			out.Owners = append(out.Owners, u)
		}
	}
	return out, nil
}

func isOwner(l domain.Lead, userID string) bool {
	for _, id := range l.OwnerIDs() {
		if id == userID {
			return true
		}
	}
	return false
}

// LockCallForDelivery locks the call and reads its environment and Call
// Connect integration in one query. Inside Store.Read, where rows cannot be
// locked, it reads them one by one.
func (r *repositories) LockCallForDelivery(ctx context.Context, envID, callID string) (ports.DeliveryContext, error) {
	if r.readOnly {
		return r.readDeliveryContext(ctx, envID, callID)
	}
	row, err := r.q.LockCallForDelivery(ctx, gen.LockCallForDeliveryParams{EnvID: envID, ID: callID, Provider: domain.ProviderCallConnect})
	if err != nil {
		return ports.DeliveryContext{}, notFound(err, fmt.Sprintf("call %q of environment %q", callID, envID))
	}
	var out ports.DeliveryContext
	if out.Call, err = callFromRow(row.Call); err != nil {
		return ports.DeliveryContext{}, err
	}
	if out.Env, err = environmentFromRow(row.Environment); err != nil {
		return ports.DeliveryContext{}, err
	}
	if out.CallConnect, err = r.integrationFromColumns(envID, integrationColumns{row.IntegrationProvider, row.IntegrationActive,
		row.IntegrationPartnerUrl, row.IntegrationDialMode, row.IntegrationSigningSecrets}); err != nil {
		return ports.DeliveryContext{}, err
	}
	return out, nil
}

func (r *repositories) readDeliveryContext(ctx context.Context, envID, callID string) (ports.DeliveryContext, error) {
	call, err := r.GetCall(ctx, envID, callID)
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	env, err := r.GetEnvironment(ctx, envID)
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	all, err := r.ListIntegrations(ctx, envID)
	if err != nil {
		return ports.DeliveryContext{}, err
	}
	out := ports.DeliveryContext{Call: call, Env: env}
	for i := range all {
		if all[i].Provider() == domain.ProviderCallConnect {
			out.CallConnect = &all[i]
		}
	}
	return out, nil
}

// integrationColumns are an integration's columns as a query reads them;
// all nil when a LEFT JOIN found none.
type integrationColumns struct {
	provider             *string
	active               *bool
	partnerURL, dialMode *string
	secrets              []byte // sealed
}

// integrationFromColumns rebuilds the integration of envID from its
// columns; nil when the join found none.
func (r *repositories) integrationFromColumns(envID string, c integrationColumns) (*domain.Integration, error) {
	if c.provider == nil {
		return nil, nil
	}
	opened, err := r.openSecrets(envID, *c.provider, c.secrets)
	if err != nil {
		return nil, err
	}
	i := domain.RestoreIntegration(envID, *c.provider, c.active != nil && *c.active, deref(c.partnerURL), domain.DialMode(deref(c.dialMode)), opened)
	return &i, nil
}

// LockClicks takes a transaction-scoped advisory lock on the user and lead,
// queued to go with the transaction's next statement (the click context's
// read), which then takes its snapshot once the lock is held.
func (r *repositories) LockClicks(ctx context.Context, envID, userID, leadID string) error {
	return r.writeHot(envID, "click", func(q *gen.Queries) error {
		return q.LockClicks(ctx, gen.LockClicksParams{EnvID: envID, UserID: userID, LeadID: leadID})
	})
}
