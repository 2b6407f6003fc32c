package postgres

import (
	"context"
	"fmt"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

// AddInteraction inserts the interaction with its Fingerprint, computed from
// the interaction as given (HasInteraction finds it by that). An id the
// environment already has is refused, when the transaction's next
// statement or its commit is sent.
func (r *repositories) AddInteraction(ctx context.Context, i domain.Interaction) error {
	in := i.Input()
	params := gen.AddInteractionParams{
		EnvID:           in.EnvID,
		ID:              in.ID,
		LeadID:          in.LeadID,
		Type:            in.Type,
		Description:     optional(in.Description),
		CallID:          optional(in.CallID),
		RecordingID:     optional(in.RecordingID),
		RecordingSha256: optional(in.RecordingSHA256),
		Fingerprint:     i.Fingerprint(),
		OccurredAt:      in.OccurredAt,
	}
	if t := in.Task; t != nil {
		reminder := t.Reminder
		params.TaskName = optional(t.Name)
		params.TaskDueAt = t.DueAt
		params.TaskStatus = optional(t.Status)
		params.TaskPriority = optional(t.Priority)
		params.TaskResponsibleType = optional(t.ResponsibleType)
		params.TaskResponsibleID = optional(t.ResponsibleID)
		params.TaskReminder = &reminder // non-NULL: there is a task
	}
	// Queued to go with the next statement or the COMMIT, without a
	// savepoint (writeHot): a callback's interaction costs no round trip of
	// its own. Its refusal (an id the environment has, a missing
	// environment) aborts the transaction, which the callback then fails
	// with, as it fails with any refused write.
	return r.writeHot(in.EnvID, "interaction", func(q *gen.Queries) error { return q.AddInteraction(ctx, params) })
}

func (r *repositories) ListInteractions(ctx context.Context, envID, leadID string) ([]domain.Interaction, error) {
	rows, err := r.q.ListInteractions(ctx, gen.ListInteractionsParams{EnvID: envID, LeadID: leadID})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the history of lead %q of environment %q: %w", leadID, envID, err)
	}
	out := make([]domain.Interaction, 0, len(rows))
	for _, row := range rows {
		i, err := interactionFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

func (r *repositories) LatestCallRecording(ctx context.Context, envID, leadID, callID string) (string, error) {
	id, err := r.q.LatestCallRecording(ctx, gen.LatestCallRecordingParams{EnvID: envID, LeadID: leadID, CallID: callID})
	if err != nil {
		return "", notFound(err, fmt.Sprintf("recording of call %q of lead %q of environment %q", callID, leadID, envID))
	}
	return id, nil
}

func interactionFromRow(row gen.Interaction) (domain.Interaction, error) {
	in := domain.InteractionInput{
		ID:              row.ID,
		EnvID:           row.EnvID,
		LeadID:          row.LeadID,
		Type:            row.Type,
		Description:     deref(row.Description),
		CallID:          deref(row.CallID),
		RecordingID:     deref(row.RecordingID),
		RecordingSHA256: deref(row.RecordingSha256),
		OccurredAt:      row.OccurredAt.UTC(),
	}
	if row.TaskReminder != nil {
		in.Task = &domain.Task{
			Name:            deref(row.TaskName),
			DueAt:           utc(row.TaskDueAt),
			Status:          deref(row.TaskStatus),
			Priority:        deref(row.TaskPriority),
			ResponsibleType: deref(row.TaskResponsibleType),
			ResponsibleID:   deref(row.TaskResponsibleID),
			Reminder:        *row.TaskReminder,
		}
	}
	i, err := domain.NewInteraction(in)
	if err != nil {
		return domain.Interaction{}, fmt.Errorf("postgres: stored interaction %q of environment %q is invalid: %v", row.ID, row.EnvID, err)
	}
	return i, nil
}

func (r *repositories) HasInteraction(ctx context.Context, envID, leadID, fingerprint string) (bool, error) {
	ok, err := r.q.HasInteraction(ctx, gen.HasInteractionParams{EnvID: envID, LeadID: leadID, Fingerprint: fingerprint})
	if err != nil {
		return false, fmt.Errorf("postgres: looking up an interaction of lead %q of environment %q: %w", leadID, envID, err)
	}
	return ok, nil
}

// PutRecording inserts or replaces the recording's row.
func (r *repositories) PutRecording(ctx context.Context, rec domain.Recording) error {
	in := rec.Input()
	params := gen.PutRecordingParams{
		EnvID:       in.EnvID,
		ID:          in.ID,
		LeadID:      in.LeadID,
		CallID:      optional(in.CallID),
		Sha256:      in.SHA256,
		Size:        in.Size,
		ContentType: in.ContentType,
		CreatedAt:   in.CreatedAt,
	}
	if err := r.write(ctx, func(q *gen.Queries) error { return q.PutRecording(ctx, params) }); err != nil {
		return writeError(err, in.EnvID, "recording")
	}
	return nil
}

func (r *repositories) GetRecording(ctx context.Context, envID, id string) (domain.Recording, error) {
	row, err := r.q.GetRecording(ctx, gen.GetRecordingParams{EnvID: envID, ID: id})
	if err != nil {
		return domain.Recording{}, notFound(err, fmt.Sprintf("recording %q of environment %q", id, envID))
	}
	rec, err := domain.NewRecording(domain.RecordingInput{ID: row.ID, EnvID: row.EnvID, LeadID: row.LeadID,
		CallID: deref(row.CallID), SHA256: row.Sha256, Size: row.Size, ContentType: row.ContentType,
		CreatedAt: row.CreatedAt.UTC()})
	if err != nil {
		return domain.Recording{}, fmt.Errorf("postgres: stored recording %q of environment %q is invalid: %v", row.ID, row.EnvID, err)
	}
	return rec, nil
}

func (r *repositories) LockRecordingContent(ctx context.Context, sha256 string) error {
	if r.readOnly {
		return errReadOnly
	}
	if err := r.q.LockRecordingContent(ctx, sha256); err != nil {
		return fmt.Errorf("postgres: locking recording content %s: %w", sha256, err)
	}
	return nil
}

func (r *repositories) RecordingsWithSHA256(ctx context.Context, sha256 string) (int, error) {
	n, err := r.q.RecordingsWithSHA256(ctx, sha256)
	if err != nil {
		return 0, fmt.Errorf("postgres: counting the recordings of %s: %w", sha256, err)
	}
	return int(n), nil
}

func (r *repositories) ReferencedAudio(ctx context.Context, sha256s []string) ([]string, error) {
	if len(sha256s) == 0 {
		return nil, nil
	}
	refs, err := r.q.ReferencedAudio(ctx, sha256s)
	if err != nil {
		return nil, fmt.Errorf("postgres: finding which of %d audio contents recordings refer to: %w", len(sha256s), err)
	}
	return refs, nil
}
