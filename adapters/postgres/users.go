package postgres

import (
	"context"
	"fmt"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

func (r *repositories) GetUser(ctx context.Context, envID, id string) (domain.User, error) {
	row, err := r.q.GetUser(ctx, gen.GetUserParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.User{}, notFound(err, fmt.Sprintf("user %q of environment %q", id, envID))
	}
	return userFromRow(row)
}

// GetUsers reads every asked user of the environment in one query.
func (r *repositories) GetUsers(ctx context.Context, envID string, ids []string) ([]domain.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := r.q.GetUsers(ctx, gen.GetUsersParams{EnvID: envID, Ids: ids})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading users of environment %q: %w", envID, err)
	}
	return usersFromRows(rows)
}

func (r *repositories) PutUser(ctx context.Context, u domain.User) error {
	in := u.Input()
	err := r.write(ctx, func(q *gen.Queries) error {
		return q.PutUser(ctx, gen.PutUserParams{
			EnvID:                 in.EnvID,
			ID:                    in.ID,
			Name:                  in.Name,
			Role:                  in.Role,
			Phone:                 optional(in.Phone),
			Extension:             optional(in.Extension),
			AgencyID:              optional(in.AgencyID),
			CanManageIntegrations: in.CanManageIntegrations,
		})
	})
	if err != nil {
		return writeError(err, in.EnvID, "user")
	}
	return nil
}

// userFromRow rebuilds the user through its validating constructor; see
// environmentFromRow.
func userFromRow(row gen.User) (domain.User, error) {
	u, err := domain.NewUser(domain.UserInput{
		EnvID:                 row.EnvID,
		ID:                    row.ID,
		Name:                  row.Name,
		Role:                  row.Role,
		Phone:                 deref(row.Phone),
		Extension:             deref(row.Extension),
		AgencyID:              deref(row.AgencyID),
		CanManageIntegrations: row.CanManageIntegrations,
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("postgres: stored user %q of environment %q is invalid: %v", row.ID, row.EnvID, err)
	}
	return u, nil
}

// optional stores "" as NULL: the schema spells "absent" one way only.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref reads NULL back as "".
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (r *repositories) ListIntegrationManagers(ctx context.Context, envID string, limit int) ([]domain.User, error) {
	n, err := rowLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.ListIntegrationManagers(ctx, gen.ListIntegrationManagersParams{EnvID: envID, RowLimit: n})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the integration managers of environment %q: %w", envID, err)
	}
	return usersFromRows(rows)
}

func usersFromRows(rows []gen.User) ([]domain.User, error) {
	users := make([]domain.User, 0, len(rows))
	for _, row := range rows {
		u, err := userFromRow(row)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}
