package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

// callColumns are the columns of gen.Call, in its fields' order.
const callColumns = `env_id, id, lead_id, user_id, status, reason, clicked_at, deadline, payload, attempts,
	created_at, updated_at, delivered_at`

// ListCalls builds its WHERE clause from the filters given, as
// ListExchanges does, rather than one static query with "$n IS NULL OR ..."
// for each: a prepared statement's generic plan could not pick the user's,
// the lead's or the status' index for a filter that may be absent. Every
// clause is a bound parameter. The cursor is a row comparison on
// (clicked_at, id), an index condition of calls_env_clicked,
// calls_env_user_clicked and calls_env_status_clicked, which keep the list's
// order (calls_env_lead keeps it by click time; a lead has few calls):
// keyset pagination, where a deep page costs what the first does, and calls
// placed while a client pages never shift the pages that follow.
func (r *repositories) ListCalls(ctx context.Context, envID string, f ports.CallFilter) ([]domain.Call, error) {
	n, err := rowLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	query, args := listCallsQuery(envID, f, n)
	rows, err := r.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing calls of environment %q: %w", envID, err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[gen.Call])
	if err != nil {
		return nil, fmt.Errorf("postgres: listing calls of environment %q: %w", envID, err)
	}
	return callsFromRows(found)
}

// callsOrder is the list's order, newest first, ties by id in byte order.
const callsOrder = ` ORDER BY clicked_at DESC, id COLLATE "C" DESC LIMIT `

// listCallsQuery is ListCalls' statement and its arguments. A no_result
// filter as calls read is two statuses: the calls marked no_result and the
// delivered ones accepted long enough ago that the job will mark them. Each
// is read in order from calls_env_status_clicked and the two are merged,
// rather than one OR that PostgreSQL would answer by reading and sorting
// every such call of the environment.
func listCallsQuery(envID string, f ports.CallFilter, limit int32) (string, []any) {
	args := []any{envID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var common strings.Builder
	where := func(clause string) { common.WriteString(" AND " + clause) }
	if f.LeadID != "" {
		where("lead_id = " + arg(f.LeadID))
	}
	if f.UserID != "" {
		where("user_id = " + arg(f.UserID))
	}
	if !f.From.IsZero() {
		where("clicked_at >= " + arg(f.From))
	}
	if !f.To.IsZero() {
		where("clicked_at < " + arg(f.To))
	}
	if f.Before != nil {
		where(`(clicked_at, id COLLATE "C") < (` + arg(f.Before.ClickedAt) + ", " + arg(f.Before.ID) + ")")
	}
	n := arg(limit)
	selectWhere := func(status string) string {
		return `SELECT ` + callColumns + ` FROM calls WHERE env_id = $1` + status + common.String()
	}
	switch {
	case f.Status == "":
		return selectWhere("") + callsOrder + n, args
	case f.NoResultAcceptedBy.IsZero():
		return selectWhere(" AND status = "+arg(string(f.Status))) + callsOrder + n, args
	case f.Status == domain.CallNoResult:
		by := arg(f.NoResultAcceptedBy)
		return `SELECT * FROM ((` + selectWhere(" AND status = 'no_result'") + callsOrder + n + `) UNION ALL (` +
			selectWhere(" AND status = 'delivered' AND delivered_at <= "+by) + callsOrder + n + `)) AS c` +
			callsOrder + n, args
	case f.Status == domain.CallDelivered:
		by := arg(f.NoResultAcceptedBy)
		return selectWhere(" AND status = 'delivered' AND (delivered_at IS NULL OR delivered_at > "+by+")") + callsOrder + n, args
	default:
		return selectWhere(" AND status = "+arg(string(f.Status))) + callsOrder + n, args
	}
}

// LatestCallRecordings reads the latest recording of every call of a page
// in one statement.
func (r *repositories) LatestCallRecordings(ctx context.Context, envID string, callIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(callIDs))
	if len(callIDs) == 0 {
		return out, nil
	}
	rows, err := r.q.LatestCallRecordings(ctx, gen.LatestCallRecordingsParams{EnvID: envID, CallIds: callIDs})
	if err != nil {
		return nil, fmt.Errorf("postgres: the recordings of %d calls of environment %q: %w", len(callIDs), envID, err)
	}
	for _, row := range rows {
		out[row.CallID] = row.RecordingID
	}
	return out, nil
}
