package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

func (r *repositories) GetLead(ctx context.Context, envID, id string) (domain.Lead, error) {
	row, err := r.q.GetLead(ctx, gen.GetLeadParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.Lead{}, notFound(err, fmt.Sprintf("lead %q of environment %q", id, envID))
	}
	return leadFromRow(row)
}

// GetLeads reads every asked lead of the environment in one query.
func (r *repositories) GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := r.q.GetLeads(ctx, gen.GetLeadsParams{EnvID: envID, Ids: ids})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading leads of environment %q: %w", envID, err)
	}
	return leadsFromRows(rows)
}

func (r *repositories) PutLead(ctx context.Context, l domain.Lead) error {
	in := l.Input()
	params := gen.PutLeadParams{
		EnvID:        in.EnvID,
		ID:           in.ID,
		Name:         in.Name,
		Email:        optional(in.Email),
		Phone:        optional(in.Phone),
		PhoneKey:     optional(l.Phone().MatchKey()),
		RegisteredAt: in.RegisteredAt,
		MainMedia:    optional(in.MainMedia),
		Origin:       optional(in.Origin),
		ManagerID:    optional(in.ManagerID),
		BrokerID:     optional(in.BrokerID),
		AgencyID:     optional(in.AgencyID),
	}
	if in.Score != nil {
		if *in.Score < math.MinInt32 || *in.Score > math.MaxInt32 {
			return fmt.Errorf("postgres: lead %q: score %d does not fit the column", in.ID, *in.Score)
		}
		s := int32(*in.Score)
		params.Score = &s
	}
	if in.Stage != nil {
		params.StageID, params.StageName = &in.Stage.ID, &in.Stage.Name
	}
	devs := make([]development, 0, len(in.Developments))
	for _, d := range in.Developments {
		devs = append(devs, development(d))
	}
	var err error
	if params.Developments, err = json.Marshal(devs); err != nil {
		return fmt.Errorf("postgres: lead %q: developments: %w", in.ID, err)
	}
	err = r.write(ctx, func(q *gen.Queries) error { return q.PutLead(ctx, params) })
	if err != nil {
		return writeError(err, in.EnvID, "lead")
	}
	return nil
}

// development is one element of leads.developments.
type development struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// leadFromRow rebuilds the lead through its validating constructor; see
// environmentFromRow. The column phone is digits only: a key starting with
// '+' (domain.Phone.MatchKey of a foreign number) gives the '+' back.
func leadFromRow(row gen.Lead) (domain.Lead, error) {
	phone := deref(row.Phone)
	if phone != "" && strings.HasPrefix(deref(row.PhoneKey), "+") {
		phone = "+" + phone
	}
	in := domain.LeadInput{
		EnvID:     row.EnvID,
		ID:        row.ID,
		Name:      row.Name,
		Email:     deref(row.Email),
		Phone:     phone,
		MainMedia: deref(row.MainMedia),
		Origin:    deref(row.Origin),
		ManagerID: deref(row.ManagerID),
		BrokerID:  deref(row.BrokerID),
		AgencyID:  deref(row.AgencyID),
	}
	if row.RegisteredAt != nil {
		t := row.RegisteredAt.UTC() // pgx answers in time.Local; UTC is the same instant on every machine
		in.RegisteredAt = &t
	}
	if row.Score != nil {
		s := int(*row.Score)
		in.Score = &s
	}
	if row.StageID != nil {
		in.Stage = &domain.Ref{ID: *row.StageID, Name: deref(row.StageName)}
	}
	var devs []development
	if err := json.Unmarshal(row.Developments, &devs); err != nil {
		return domain.Lead{}, fmt.Errorf("postgres: stored lead %q of environment %q: developments: %v", row.ID, row.EnvID, err)
	}
	in.Developments = make([]domain.Ref, 0, len(devs))
	for _, d := range devs {
		in.Developments = append(in.Developments, domain.Ref(d))
	}
	l, err := domain.NewLead(in)
	if err != nil {
		return domain.Lead{}, fmt.Errorf("postgres: stored lead %q of environment %q is invalid: %v", row.ID, row.EnvID, err)
	}
	return l, nil
}

// FindLeadsMatchingPhone finds the leads whose phone_key is the phone's
// domain.Phone.MatchKey. Ordered by id.
func (r *repositories) FindLeadsMatchingPhone(ctx context.Context, envID string, phone domain.Phone) ([]domain.Lead, error) {
	if phone.IsZero() {
		return nil, nil
	}
	rows, err := r.q.FindLeadsByPhoneKey(ctx, gen.FindLeadsByPhoneKeyParams{EnvID: envID, PhoneKey: phone.MatchKey()})
	if err != nil {
		return nil, fmt.Errorf("postgres: finding leads of environment %q by phone: %w", envID, err)
	}
	return leadsFromRows(rows)
}

// FindLeadsByEmail finds the leads with that e-mail, compared with lower()
// on both sides (as the index leads_env_email is built). Ordered by id.
func (r *repositories) FindLeadsByEmail(ctx context.Context, envID, email string) ([]domain.Lead, error) {
	if email == "" {
		return nil, nil
	}
	rows, err := r.q.FindLeadsByEmail(ctx, gen.FindLeadsByEmailParams{EnvID: envID, Email: email})
	if err != nil {
		return nil, fmt.Errorf("postgres: finding leads of environment %q by e-mail: %w", envID, err)
	}
	return leadsFromRows(rows)
}

func leadsFromRows(rows []gen.Lead) ([]domain.Lead, error) {
	leads := make([]domain.Lead, 0, len(rows))
	for _, row := range rows {
		l, err := leadFromRow(row)
		if err != nil {
			return nil, err
		}
		leads = append(leads, l)
	}
	return leads, nil
}
