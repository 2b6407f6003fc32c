package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

func (r *repositories) ListIntegrations(ctx context.Context, envID string) ([]domain.Integration, error) {
	rows, err := r.q.ListIntegrations(ctx, envID)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the integrations of environment %q: %w", envID, err)
	}
	out := make([]domain.Integration, 0, len(rows))
	for _, row := range rows {
		in, err := r.integrationFromColumns(row.EnvID, integrationColumns{&row.Provider, &row.Active, row.PartnerUrl, row.DialMode, row.SigningSecrets})
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	return out, nil
}

func (r *repositories) PutIntegration(ctx context.Context, i domain.Integration) error {
	params := gen.PutIntegrationParams{
		EnvID:      i.EnvID(),
		Provider:   i.Provider(),
		Active:     i.Active(),
		PartnerUrl: optional(i.PartnerURL()),
		DialMode:   optional(string(i.DialMode())),
	}
	sealed, err := r.sealSecrets(i.EnvID(), i.Provider(), i.Secrets())
	if err != nil {
		return err
	}
	params.SigningSecrets = sealed
	if err := r.write(ctx, func(q *gen.Queries) error { return q.PutIntegration(ctx, params) }); err != nil {
		return writeError(err, i.EnvID(), "integration")
	}
	return nil
}

// storedSecret is one signing secret inside the sealed JSON document.
type storedSecret struct {
	Value     string     `json:"value"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// secretsAD binds sealed secrets to their row: moved to another
// integration, they no longer open.
func secretsAD(envID, provider string) []byte {
	return []byte("callconnect/telephony_integrations.signing_secrets\x00" + envID + "\x00" + provider)
}

// sealSecrets encrypts the secrets list as one value; none is NULL.
func (r *repositories) sealSecrets(envID, provider string, secrets []domain.SigningSecret) ([]byte, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	doc := make([]storedSecret, 0, len(secrets))
	for _, s := range secrets {
		if s.ExpiresAt != nil {
			t := s.ExpiresAt.UTC()
			s.ExpiresAt = &t
		}
		doc = append(doc, storedSecret(s))
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("postgres: integration %q of environment %q: signing secrets: %w", provider, envID, err)
	}
	return r.box.seal(plain, secretsAD(envID, provider)), nil
}

func (r *repositories) openSecrets(envID, provider string, sealed []byte) ([]domain.SigningSecret, error) {
	if sealed == nil {
		return nil, nil
	}
	plain, err := r.box.open(sealed, secretsAD(envID, provider))
	if err != nil {
		return nil, fmt.Errorf("postgres: integration %q of environment %q: %w", provider, envID, err)
	}
	var doc []storedSecret
	if err := json.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("postgres: integration %q of environment %q: signing secrets: %v", provider, envID, err)
	}
	secrets := make([]domain.SigningSecret, 0, len(doc))
	for _, s := range doc {
		secrets = append(secrets, domain.SigningSecret(s))
	}
	return secrets, nil
}
