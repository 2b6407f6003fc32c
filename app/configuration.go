package app

import (
	"context"
	"fmt"

	"callconnect/domain"
	"callconnect/ports"
)

// Configuration keeps the CRM's view of environments, users and leads. Every
// write replaces the whole resource and is idempotent.
type Configuration struct {
	store unitOfWork[configurationRepos]
}

// configurationRepos is what the configuration reads and writes.
type configurationRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	PutEnvironment(ctx context.Context, e domain.Environment) error
	ListEnvironments(ctx context.Context, after string, limit int) ([]domain.Environment, error)
	GetUser(ctx context.Context, envID, id string) (domain.User, error)
	GetUsers(ctx context.Context, envID string, ids []string) ([]domain.User, error)
	PutUser(ctx context.Context, u domain.User) error
	ListIntegrationManagers(ctx context.Context, envID string, limit int) ([]domain.User, error)
	GetLead(ctx context.Context, envID, id string) (domain.Lead, error)
	GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error)
	PutLead(ctx context.Context, l domain.Lead) error
}

// NewConfiguration builds the service.
func NewConfiguration(store ports.Store) *Configuration {
	return &Configuration{store: narrow(store, func(r ports.Repositories) configurationRepos { return r })}
}

// PutEnvironment creates or replaces an environment.
func (s *Configuration) PutEnvironment(ctx context.Context, in domain.EnvironmentInput) (domain.Environment, error) {
	env, err := domain.NewEnvironment(in)
	if err != nil {
		return domain.Environment{}, err
	}
	err = s.store.Tx(ctx, func(ctx context.Context, r configurationRepos) error {
		return r.PutEnvironment(ctx, env)
	})
	return env, err
}

// GetEnvironment reads an environment.
func (s *Configuration) GetEnvironment(ctx context.Context, envID string) (domain.Environment, error) {
	var env domain.Environment
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		var err error
		env, err = r.GetEnvironment(ctx, envID)
		return envNotFound(err, envID)
	})
	return env, err
}

// PutUser creates or replaces a user of an existing environment.
func (s *Configuration) PutUser(ctx context.Context, in domain.UserInput) (domain.User, error) {
	u, err := domain.NewUser(in)
	if err != nil {
		return domain.User{}, err
	}
	err = s.store.Tx(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, in.EnvID); err != nil {
			return envNotFound(err, in.EnvID)
		}
		return r.PutUser(ctx, u)
	})
	return u, err
}

// GetUser reads a user.
func (s *Configuration) GetUser(ctx context.Context, envID, userID string) (domain.User, error) {
	var u domain.User
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		u, err = r.GetUser(ctx, envID, userID)
		return notFound(err, domain.CodeUserNotFound, "user_id", fmt.Sprintf("user %q", userID))
	})
	return u, err
}

// PutLead creates or replaces a lead of an existing environment.
func (s *Configuration) PutLead(ctx context.Context, in domain.LeadInput) (domain.Lead, error) {
	l, err := domain.NewLead(in)
	if err != nil {
		return domain.Lead{}, err
	}
	err = s.store.Tx(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, in.EnvID); err != nil {
			return envNotFound(err, in.EnvID)
		}
		return r.PutLead(ctx, l)
	})
	return l, err
}

// GetLead reads a lead.
func (s *Configuration) GetLead(ctx context.Context, envID, leadID string) (domain.Lead, error) {
	var l domain.Lead
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		l, err = r.GetLead(ctx, envID, leadID)
		return notFound(err, domain.CodeLeadNotFound, "lead_id", fmt.Sprintf("lead %q", leadID))
	})
	return l, err
}

// GetLeads returns those of ids that are leads of the environment, in one
// read; ids that are not are left out.
func (s *Configuration) GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error) {
	var leads []domain.Lead
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		leads, err = r.GetLeads(ctx, envID, ids)
		return err
	})
	return leads, err
}

// MaxEnvironmentPage is the most environments one ListEnvironments returns.
const MaxEnvironmentPage = 500

// ListEnvironments returns up to limit environments (MaxEnvironmentPage when
// zero or larger) whose id comes after after, ordered by id.
func (s *Configuration) ListEnvironments(ctx context.Context, after string, limit int) ([]domain.Environment, error) {
	if limit <= 0 || limit > MaxEnvironmentPage {
		limit = MaxEnvironmentPage
	}
	var out []domain.Environment
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		var err error
		out, err = r.ListEnvironments(ctx, after, limit)
		return err
	})
	return out, err
}

// MaxIntegrationManagers bounds IntegrationManagers.
const MaxIntegrationManagers = 200

// IntegrationManagers returns the environment's users who may manage its
// integrations (the actors of Telephony), by id, at most MaxIntegrationManagers.
func (s *Configuration) IntegrationManagers(ctx context.Context, envID string) ([]domain.User, error) {
	var out []domain.User
	err := s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		out, err = r.ListIntegrationManagers(ctx, envID, MaxIntegrationManagers)
		return err
	})
	return out, err
}
