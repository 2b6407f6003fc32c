package postgres

import (
	"context"
	"fmt"
	"math"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

func (r *repositories) GetEnvironment(ctx context.Context, id string) (domain.Environment, error) {
	row, err := r.q.GetEnvironment(ctx, id)
	if err != nil {
		return domain.Environment{}, notFound(err, fmt.Sprintf("environment %q", id))
	}
	return environmentFromRow(row)
}

// LockEnvironment reads the environment and locks its row until the
// transaction ends. Inside Store.Read it only reads: the snapshot cannot
// change underneath, and a read-only transaction may not lock rows.
func (r *repositories) LockEnvironment(ctx context.Context, id string) (domain.Environment, error) {
	if r.readOnly {
		return r.GetEnvironment(ctx, id)
	}
	row, err := r.q.LockEnvironment(ctx, id)
	if err != nil {
		return domain.Environment{}, notFound(err, fmt.Sprintf("environment %q", id))
	}
	return environmentFromRow(row)
}

func (r *repositories) PutEnvironment(ctx context.Context, e domain.Environment) error {
	in := e.Input()
	err := r.write(ctx, func(q *gen.Queries) error {
		return q.PutEnvironment(ctx, gen.PutEnvironmentParams{
			ID:                 in.ID,
			Name:               in.Name,
			PublicBaseUrl:      in.PublicBaseURL,
			TimeZone:           in.TimeZone,
			CallConnectEnabled: in.CallConnectEnabled,
			WidgetOrigins:      append([]string{}, in.WidgetOrigins...), // never NULL: the column is NOT NULL
		})
	})
	if err != nil {
		return writeError(err, in.ID, "environment")
	}
	return nil
}

// environmentFromRow rebuilds the environment through its validating
// constructor (the domain has no unchecked restore for it). A stored row that
// no longer validates is a server fault, not the caller's: the domain error
// is reported, not wrapped, so that it cannot pass for a 4xx.
func environmentFromRow(row gen.Environment) (domain.Environment, error) {
	e, err := domain.NewEnvironment(domain.EnvironmentInput{
		ID:                 row.ID,
		Name:               row.Name,
		PublicBaseURL:      row.PublicBaseUrl,
		TimeZone:           row.TimeZone,
		CallConnectEnabled: row.CallConnectEnabled,
		WidgetOrigins:      row.WidgetOrigins,
	})
	if err != nil {
		return domain.Environment{}, fmt.Errorf("postgres: stored environment %q is invalid: %v", row.ID, err)
	}
	return e, nil
}

func (r *repositories) ListEnvironments(ctx context.Context, after string, limit int) ([]domain.Environment, error) {
	n, err := rowLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.ListEnvironments(ctx, gen.ListEnvironmentsParams{After: after, RowLimit: n})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing environments: %w", err)
	}
	out := make([]domain.Environment, 0, len(rows))
	for _, row := range rows {
		e, err := environmentFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// rowLimit checks a listing's limit and converts it for the queries.
func rowLimit(limit int) (int32, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: a listing needs a positive limit, got %d", limit)
	}
	return int32(min(limit, math.MaxInt32)), nil
}
