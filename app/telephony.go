package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"callconnect/domain"
	"callconnect/ports"
)

// Telephony configures the telephony integrations of an environment: the
// Call Connect integration (partner URL, dial mode, signing secret) and the
// others, which only have an active flag.
type Telephony struct {
	store  unitOfWork[telephonyRepos]
	clock  ports.Clock
	random ports.Random
	policy domain.URLPolicy
}

// telephonyRepos is what configuring integrations reads and writes.
type telephonyRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	LockEnvironment(ctx context.Context, id string) (domain.Environment, error)
	actors
	ports.Integrations
}

// actors reads the users changes are made on behalf of.
type actors interface {
	GetUser(ctx context.Context, envID, id string) (domain.User, error)
}

// NewTelephony builds the service; policy says which partner URLs the
// deployment accepts.
func NewTelephony(store ports.Store, clock ports.Clock, random ports.Random, policy domain.URLPolicy) *Telephony {
	return &Telephony{store: narrow(store, func(r ports.Repositories) telephonyRepos { return r }), clock: clock, random: random, policy: policy}
}

// IntegrationResult is an integration after a change. NewSecret holds the
// signing secret when this change created or rotated it, and only then: it is
// never shown again.
type IntegrationResult struct {
	Integration domain.Integration
	NewSecret   string
}

// signingSecretBytes is the key length of a new signing secret (256 bits).
const signingSecretBytes = 32

func (s *Telephony) newSecret() string {
	return "whsec_" + base64.StdEncoding.EncodeToString(s.random.Bytes(signingSecretBytes))
}

// PutIntegration creates or replaces the settings of an integration. The
// active flag is left as it is: activate and deactivate change it.
func (s *Telephony) PutIntegration(ctx context.Context, envID, provider, actorID string, settings domain.IntegrationSettings) (IntegrationResult, error) {
	var res IntegrationResult
	err := s.manage(ctx, integrationRef{envID, provider, actorID}, true, func(ctx context.Context, r telephonyRepos, current *domain.Integration, _ []domain.Integration) error {
		if current == nil {
			secret := ""
			if provider == domain.ProviderCallConnect {
				secret = s.newSecret()
			}
			in, err := domain.NewIntegration(envID, provider, settings, s.policy, secret)
			if err != nil {
				return err
			}
			res = IntegrationResult{Integration: in, NewSecret: secret}
		} else {
			if err := current.Configure(settings, s.policy); err != nil {
				return err
			}
			res = IntegrationResult{Integration: *current}
		}
		return r.PutIntegration(ctx, res.Integration)
	})
	return res, err
}

// Activate switches an integration on (rules 1, 3 and 4).
func (s *Telephony) Activate(ctx context.Context, envID, provider, actorID string) (domain.Integration, error) {
	var out domain.Integration
	err := s.manage(ctx, integrationRef{envID, provider, actorID}, true, func(ctx context.Context, r telephonyRepos, current *domain.Integration, all []domain.Integration) error {
		if current == nil {
			return integrationNotFound(provider)
		}
		if err := current.Activate(all); err != nil {
			return err
		}
		out = *current
		return r.PutIntegration(ctx, out)
	})
	return out, err
}

// Deactivate switches an integration off. The support switch is not needed
// for that, the permission is.
func (s *Telephony) Deactivate(ctx context.Context, envID, provider, actorID string) (domain.Integration, error) {
	var out domain.Integration
	err := s.manage(ctx, integrationRef{envID, provider, actorID}, false, func(ctx context.Context, r telephonyRepos, current *domain.Integration, _ []domain.Integration) error {
		if current == nil {
			return integrationNotFound(provider)
		}
		current.Deactivate()
		out = *current
		return r.PutIntegration(ctx, out)
	})
	return out, err
}

// RotateSecret gives the Call Connect integration a new signing secret; the
// previous one keeps signing for domain.PreviousSecretGrace.
func (s *Telephony) RotateSecret(ctx context.Context, envID, actorID string) (IntegrationResult, error) {
	var res IntegrationResult
	err := s.manage(ctx, integrationRef{envID, domain.ProviderCallConnect, actorID}, true, func(ctx context.Context, r telephonyRepos, current *domain.Integration, _ []domain.Integration) error {
		if current == nil {
			return integrationNotFound(domain.ProviderCallConnect)
		}
		secret := s.newSecret()
		if err := current.RotateSecret(secret, s.clock.Now()); err != nil {
			return err
		}
		res = IntegrationResult{Integration: *current, NewSecret: secret}
		return r.PutIntegration(ctx, res.Integration)
	})
	return res, err
}

// ListIntegrations returns the environment's integrations, ordered by provider.
func (s *Telephony) ListIntegrations(ctx context.Context, envID string) ([]domain.Integration, error) {
	var out []domain.Integration
	err := s.store.Read(ctx, func(ctx context.Context, r telephonyRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		out, err = r.ListIntegrations(ctx, envID)
		return err
	})
	return out, err
}

// integrationRef names the integration a change is made to (provider, in
// envID) and who makes it.
type integrationRef struct{ envID, provider, actorID string }

// manage runs change in a transaction that holds the environment (so that
// integration changes of one environment are serialised) after checking the
// actor's permission (rule 4). current is the integration of provider, nil
// when it does not exist yet; all is every integration of the environment.
func (s *Telephony) manage(ctx context.Context, ref integrationRef, needsSupportSwitch bool,
	change func(ctx context.Context, r telephonyRepos, current *domain.Integration, all []domain.Integration) error) error {
	envID, provider, actorID := ref.envID, ref.provider, ref.actorID
	if !domain.ValidProvider(provider) {
		return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidField, Field: "provider",
			Message: "must be lowercase letters, digits and dashes"}
	}
	err := s.store.Tx(ctx, func(ctx context.Context, r telephonyRepos) error {
		env, err := r.LockEnvironment(ctx, envID)
		if err != nil {
			return envNotFound(err, envID)
		}
		actor, err := getActor(ctx, r, envID, actorID)
		if err != nil {
			return err
		}
		if needsSupportSwitch {
			err = domain.CheckManagementAllowed(env, actor, provider)
		} else {
			err = domain.CheckDeactivationAllowed(actor)
		}
		if err != nil {
			return err
		}
		all, err := r.ListIntegrations(ctx, envID)
		if err != nil {
			return err
		}
		var current *domain.Integration
		for i := range all {
			if all[i].Provider() == provider {
				c := all[i]
				current = &c
			}
		}
		return change(ctx, r, current, all)
	})
	if errors.Is(err, ports.ErrActiveElsewhere) {
		return &domain.Error{Kind: domain.KindConflict, Code: domain.CodeIntegrationActiveElsewhere, Field: "provider",
			Message: "another telephony integration is active in this environment; deactivate it first"}
	}
	return err
}

// getActor reads the user a change is made on behalf of; an unknown one is
// a fault of the request (actor_not_found), not a missing resource.
func getActor(ctx context.Context, r actors, envID, actorID string) (domain.User, error) {
	actor, err := r.GetUser(ctx, envID, actorID)
	if errors.Is(err, ports.ErrNotFound) {
		return domain.User{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeActorNotFound, Field: "actor_id",
			Message: fmt.Sprintf("user %q does not exist in this environment", actorID)}
	}
	return actor, err
}

func integrationNotFound(provider string) error {
	return domain.NotFound(domain.CodeIntegrationNotFound, "provider",
		fmt.Sprintf("integration %q is not configured in this environment; PUT it first", provider))
}
