package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"callconnect/ports"
)

// SQLSTATE codes the repositories translate.
const (
	foreignKeyViolation = "23503"
	notNullViolation    = "23502"
	uniqueViolation     = "23505"
	undefinedTable      = "42P01"
)

// isSQLState tells whether err is PostgreSQL's error of that SQLSTATE.
func isSQLState(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// oneActiveIndex is the partial unique index that enforces rule 1.
const oneActiveIndex = "telephony_integrations_one_active"

// notFound turns pgx's "no rows" into ports.ErrNotFound, naming what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ports.ErrNotFound)
	}
	return fmt.Errorf("postgres: reading %s: %w", what, err)
}

// writeError translates a failed write: a row of an environment that does not
// exist is ports.ErrNotFound (every foreign key of the schema points at
// environments; an exchange, which has none, looks its environment up and
// leaves env_id NULL when there is none), a second active integration is
// ports.ErrActiveElsewhere.
func writeError(err error, envID, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == foreignKeyViolation, pgErr.Code == notNullViolation && pgErr.ColumnName == "env_id":
			return fmt.Errorf("environment %q: %w", envID, ports.ErrNotFound)
		case pgErr.Code == uniqueViolation && pgErr.ConstraintName == oneActiveIndex:
			return fmt.Errorf("environment %q: %w", envID, ports.ErrActiveElsewhere)
		}
	}
	return fmt.Errorf("postgres: writing %s: %w", what, err)
}
