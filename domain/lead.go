package domain

import (
	"net/mail"
	"strings"
	"time"
)

// Ref is an id and a display name, as the CRM names a stage or a development.
type Ref struct {
	ID   string
	Name string
}

// MaxDevelopments bounds the developments ("empreendimentos") of one lead.
const MaxDevelopments = 100

// Lead is a prospect and its owners ("donos").
type Lead struct {
	envID        string
	id           string
	name         string
	email        string
	phone        Phone
	score        *int
	registeredAt *time.Time
	mainMedia    string
	origin       string
	stage        *Ref
	developments []Ref
	managerID    string
	brokerID     string
	agencyID     string
}

// LeadInput is what the CRM sends to create or replace a lead.
type LeadInput struct {
	EnvID        string
	ID           string
	Name         string
	Email        string
	Phone        string
	Score        *int
	RegisteredAt *time.Time
	MainMedia    string
	Origin       string
	Stage        *Ref
	Developments []Ref
	ManagerID    string
	BrokerID     string
	AgencyID     string
}

// NewLead validates in and returns the lead.
func NewLead(in LeadInput) (Lead, error) {
	if err := checkID("env", in.EnvID); err != nil {
		return Lead{}, err
	}
	if err := checkID("lead_id", in.ID); err != nil {
		return Lead{}, err
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return Lead{}, err
	}
	email, err := checkLeadEmail(in.Email)
	if err != nil {
		return Lead{}, err
	}
	phone, err := ParsePhone("phone", in.Phone)
	if err != nil {
		return Lead{}, err
	}
	if in.Score != nil && (*in.Score < 0 || *in.Score > 1_000_000) {
		return Lead{}, invalid("score", "must be between 0 and 1000000")
	}
	for _, f := range []struct{ name, v string }{{"main_media", in.MainMedia}, {"origin", in.Origin}} {
		if err := checkText(f.name, f.v, false, 200); err != nil {
			return Lead{}, err
		}
	}
	stage, err := checkLeadStage(in.Stage)
	if err != nil {
		return Lead{}, err
	}
	devs, err := checkDevelopments(in.Developments)
	if err != nil {
		return Lead{}, err
	}
	for _, f := range []struct{ name, v string }{{"manager_id", in.ManagerID}, {"broker_id", in.BrokerID}, {"agency_id", in.AgencyID}} {
		if err := checkOptionalID(f.name, f.v); err != nil {
			return Lead{}, err
		}
	}
	return Lead{envID: in.EnvID, id: in.ID, name: in.Name, email: email, phone: phone, score: copied(in.Score),
		registeredAt: copied(in.RegisteredAt), mainMedia: in.MainMedia, origin: in.Origin, stage: stage, developments: devs,
		managerID: in.ManagerID, brokerID: in.BrokerID, agencyID: in.AgencyID}, nil
}

// checkLeadEmail trims an optional e-mail and checks it is a plain address.
func checkLeadEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email != "" {
		addr, err := mail.ParseAddress(email)
		if err != nil || addr.Address != email || len(email) > 254 {
			return "", invalid("email", "must be a plain e-mail address such as name@example.com")
		}
	}
	return email, nil
}

// checkLeadStage checks an optional stage and returns a copy of it.
func checkLeadStage(in *Ref) (*Ref, error) {
	if in == nil {
		return nil, nil
	}
	s, err := checkRef("stage", *in)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// checkDevelopments checks a lead's developments and returns a copy of them.
func checkDevelopments(in []Ref) ([]Ref, error) {
	if len(in) > MaxDevelopments {
		return nil, invalid("developments", "must have at most %d items", MaxDevelopments)
	}
	devs := make([]Ref, 0, len(in))
	for _, d := range in {
		r, err := checkRef("developments", d)
		if err != nil {
			return nil, err
		}
		devs = append(devs, r)
	}
	return devs, nil
}

// copied returns a pointer to a copy of *p, or nil, so that a Lead shares
// no memory with its input.
func copied[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func checkRef(field string, r Ref) (Ref, error) {
	if err := checkID(field+".id", r.ID); err != nil {
		return Ref{}, err
	}
	if err := checkText(field+".name", r.Name, false, 200); err != nil {
		return Ref{}, err
	}
	return r, nil
}

func (l Lead) EnvID() string     { return l.envID }
func (l Lead) ID() string        { return l.id }
func (l Lead) Name() string      { return l.name }
func (l Lead) Email() string     { return l.email }
func (l Lead) Phone() Phone      { return l.phone }
func (l Lead) ManagerID() string { return l.managerID }
func (l Lead) BrokerID() string  { return l.brokerID }
func (l Lead) AgencyID() string  { return l.agencyID }

// Input returns the values l was built from (normalised), copies included.
func (l Lead) Input() LeadInput {
	in := LeadInput{EnvID: l.envID, ID: l.id, Name: l.name, Email: l.email, Phone: l.phone.String(),
		MainMedia: l.mainMedia, Origin: l.origin, ManagerID: l.managerID, BrokerID: l.brokerID, AgencyID: l.agencyID}
	if l.score != nil {
		s := *l.score
		in.Score = &s
	}
	if l.registeredAt != nil {
		t := *l.registeredAt
		in.RegisteredAt = &t
	}
	if l.stage != nil {
		s := *l.stage
		in.Stage = &s
	}
	in.Developments = append([]Ref{}, l.developments...)
	return in
}

// IsOwnedBy reports whether u is one of the lead's owners: its manager, broker
// or agency, or a user of that agency (rule 5, docs/rules.md). Each owner slot
// only matches a user of that role: the CRM numbers gestores, corretores and
// imobiliárias separately (its own example gives all three id "1"), so a
// broker whose id happens to equal the lead's manager_id is not the lead's gestor.
func (l Lead) IsOwnedBy(u User) bool {
	if u.envID != l.envID || u.id == "" {
		return false
	}
	switch u.role {
	case RoleManager:
		return u.id == l.managerID
	case RoleBroker:
		return u.id == l.brokerID
	case RoleAgency:
		return u.id == l.agencyID
	case RoleAgencyUser:
		return l.agencyID != "" && u.agencyID == l.agencyID
	}
	return false
}
