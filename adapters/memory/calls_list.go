package memory

import (
	"context"
	"errors"

	"callconnect/ports"
)

// LatestCallRecordings asks LatestCallRecording for each call the
// environment has among callIDs.
func (r *repositories) LatestCallRecordings(ctx context.Context, envID string, callIDs []string) (map[string]string, error) {
	if err := r.check(false); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(callIDs))
	for _, id := range callIDs {
		c, ok := r.state.calls[key{envID, id}]
		if !ok {
			continue
		}
		rec, err := r.LatestCallRecording(ctx, envID, c.LeadID(), id)
		switch {
		case errors.Is(err, ports.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[id] = rec
		}
	}
	return out, nil
}
