package app

import (
	"context"
)

// Names returns the names of those of userIDs and leadIDs that are users and
// leads of the environment, by id, in one read (a query for each kind,
// however many ids): lists that show who placed a call to whom name them
// without a query per row. Ids that name nothing are left out.
func (s *Configuration) Names(ctx context.Context, envID string, userIDs, leadIDs []string) (users, leads map[string]string, err error) {
	users, leads = map[string]string{}, map[string]string{}
	err = s.store.Read(ctx, func(ctx context.Context, r configurationRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		if len(userIDs) > 0 {
			us, err := r.GetUsers(ctx, envID, userIDs)
			if err != nil {
				return err
			}
			for _, u := range us {
				users[u.ID()] = u.Name()
			}
		}
		if len(leadIDs) > 0 {
			ls, err := r.GetLeads(ctx, envID, leadIDs)
			if err != nil {
				return err
			}
			for _, l := range ls {
				leads[l.ID()] = l.Name()
			}
		}
		return nil
	})
	return users, leads, err
}
