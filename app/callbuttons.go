package app

import (
	"context"
	"fmt"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// MaxCallButtonBatch is the most leads one batch decision may ask about.
const MaxCallButtonBatch = 500

// ReasonLeadNotFound marks, in a batch answer, a lead that does not exist in
// the environment; the button is not shown for it.
const ReasonLeadNotFound domain.ButtonReason = "lead_not_found"

// CallButtons decides whether the Ligar button is shown and enabled (rule 5).
type CallButtons struct {
	store unitOfWork[buttonReads]
}

// buttonReads is what deciding call buttons reads.
type buttonReads interface {
	clickContexts
	GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error)
}

// clickContexts reads what pressing Ligar (and deciding its button) needs.
type clickContexts interface {
	GetClickContext(ctx context.Context, envID, userID, leadID string) (ports.ClickContext, error)
}

// NewCallButtons builds the service.
func NewCallButtons(store ports.Store) *CallButtons {
	return &CallButtons{store: narrow(store, func(r ports.Repositories) buttonReads { return r })}
}

// LeadButton is one decision of a batch.
type LeadButton struct {
	LeadID string
	domain.CallButton
}

// Decide returns the decision for one lead and user.
func (s *CallButtons) Decide(ctx context.Context, envID, leadID, userID string) (domain.CallButton, error) {
	var out domain.CallButton
	err := s.store.Read(ctx, func(ctx context.Context, r buttonReads) error {
		d, err := decide(ctx, r, envID, leadID, userID)
		out = d.button
		return err
	})
	return out, err
}

// OwnerButton is one owner of a lead and the call button that owner sees.
type OwnerButton struct {
	// Role is the lead's field that names the owner: manager, broker or agency.
	Role   domain.Role
	UserID string
	// User is nil when the environment has no user of that id; the button
	// is then not decided (zero).
	User *domain.User
	domain.CallButton
}

// LeadOwners is a lead with the call button each of its owners sees.
type LeadOwners struct {
	Lead domain.Lead
	// Owners are the lead's manager, broker and agency, in that order, those
	// it names.
	Owners []OwnerButton
}

// DecideForOwners reads the lead and decides the call button of each owner
// it names, as Decide would for that user, in one read: every owner is read
// once, together with the lead, the environment and its integration.
func (s *CallButtons) DecideForOwners(ctx context.Context, envID, leadID string) (LeadOwners, error) {
	var out LeadOwners
	err := s.store.Read(ctx, func(ctx context.Context, r buttonReads) error {
		c, err := r.GetClickContext(ctx, envID, "", leadID) // no user pressed anything: the owners alone
		if err != nil {
			return envNotFound(err, envID)
		}
		if c.Lead == nil {
			return notFound(ports.ErrNotFound, domain.CodeLeadNotFound, "lead_id", fmt.Sprintf("lead %q", leadID))
		}
		lead := *c.Lead
		users := make(map[string]domain.User, len(c.Owners))
		for _, u := range c.Owners {
			users[u.ID()] = u
		}
		out = LeadOwners{Lead: lead}
		for _, o := range []struct {
			role domain.Role
			id   string
		}{{domain.RoleManager, lead.ManagerID()}, {domain.RoleBroker, lead.BrokerID()}, {domain.RoleAgency, lead.AgencyID()}} {
			if o.id == "" {
				continue
			}
			ob := OwnerButton{Role: o.role, UserID: o.id}
			if u, ok := users[o.id]; ok {
				ob.User = &u
				ob.CallButton = domain.DecideCallButton(c.Env, lead, u, c.CallConnect)
			}
			out.Owners = append(out.Owners, ob)
		}
		return nil
	})
	return out, err
}

// decision is rule 5 applied to one lead and user, with what it was decided on.
type decision struct {
	env    domain.Environment
	lead   domain.Lead
	user   domain.User
	owners []domain.User // the stored ones among the lead's owners
	cc     *domain.Integration
	button domain.CallButton
	// openCallID is the user's call to the lead still queued or
	// delivering with the latest dispatch deadline, openCallDeadline; ""
	// when none.
	openCallID       string
	openCallDeadline time.Time
}

// decide loads what the call button of leadID for userID depends on, in one
// read, and decides it.
func decide(ctx context.Context, r clickContexts, envID, leadID, userID string) (decision, error) {
	c, err := r.GetClickContext(ctx, envID, userID, leadID)
	if err != nil {
		return decision{}, envNotFound(err, envID)
	}
	if c.User == nil {
		return decision{}, notFound(ports.ErrNotFound, domain.CodeUserNotFound, "user_id", fmt.Sprintf("user %q", userID))
	}
	if c.Lead == nil {
		return decision{}, notFound(ports.ErrNotFound, domain.CodeLeadNotFound, "lead_id", fmt.Sprintf("lead %q", leadID))
	}
	return decision{env: c.Env, lead: *c.Lead, user: *c.User, owners: c.Owners, cc: c.CallConnect,
		button: domain.DecideCallButton(c.Env, *c.Lead, *c.User, c.CallConnect), openCallID: c.OpenCallID, openCallDeadline: c.OpenCallDeadline}, nil
}

// DecideMany returns one decision per asked lead, in the order asked, in
// two queries however many leads there are: the decision's context, then
// the leads. A lead that does not exist gets an invisible button with
// ReasonLeadNotFound.
func (s *CallButtons) DecideMany(ctx context.Context, envID, userID string, leadIDs []string) ([]LeadButton, error) {
	if len(leadIDs) > MaxCallButtonBatch {
		return nil, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeTooManyLeads, Field: "lead_ids",
			Message: fmt.Sprintf("at most %d leads per request, got %d", MaxCallButtonBatch, len(leadIDs))}
	}
	for i, id := range leadIDs {
		if !domain.ValidID(id) {
			return nil, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: fmt.Sprintf("lead_ids[%d]", i),
				Message: "must be 1 to 64 URL-safe characters"}
		}
	}
	out := make([]LeadButton, 0, len(leadIDs))
	err := s.store.Read(ctx, func(ctx context.Context, r buttonReads) error {
		env, user, cc, err := loadDecisionContext(ctx, r, envID, userID)
		if err != nil {
			return err
		}
		leads, err := r.GetLeads(ctx, envID, leadIDs)
		if err != nil {
			return err
		}
		byID := make(map[string]domain.Lead, len(leads))
		for _, l := range leads {
			byID[l.ID()] = l
		}
		for _, id := range leadIDs {
			lead, ok := byID[id]
			if !ok {
				out = append(out, LeadButton{LeadID: id, CallButton: domain.CallButton{Reason: ReasonLeadNotFound}})
				continue
			}
			out = append(out, LeadButton{LeadID: id, CallButton: domain.DecideCallButton(env, lead, user, cc)})
		}
		return nil
	})
	return out, err
}

// loadDecisionContext reads what every decision of one user needs, in one
// query: the environment, the user and the Call Connect integration (nil
// when none). It is the click's context without a lead.
func loadDecisionContext(ctx context.Context, r clickContexts, envID, userID string) (domain.Environment, domain.User, *domain.Integration, error) {
	c, err := r.GetClickContext(ctx, envID, userID, "")
	if err != nil {
		return domain.Environment{}, domain.User{}, nil, envNotFound(err, envID)
	}
	if c.User == nil {
		return domain.Environment{}, domain.User{}, nil, notFound(ports.ErrNotFound, domain.CodeUserNotFound, "user_id", fmt.Sprintf("user %q", userID))
	}
	return c.Env, *c.User, c.CallConnect, nil
}
