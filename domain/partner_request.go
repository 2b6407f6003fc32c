package domain

import "time"

// PartnerPayloadInput is what the request a partner receives for a click is
// made of; the wire format is the partner protocol's (adapters/cvio).
type PartnerPayloadInput struct {
	Env       Environment
	Lead      Lead
	Actor     User            // who pressed Ligar
	Owners    map[string]User // the lead's owners that exist, by user id
	CallID    string
	ClickedAt time.Time
	DialMode  DialMode
	// Test marks a sample call sent to try the partner's endpoint: it is
	// not a real call and nothing comes of its result.
	Test bool
}

// OwnerIDs returns the ids of the lead's owner slots that are set.
func (l Lead) OwnerIDs() []string {
	var ids []string
	for _, id := range []string{l.managerID, l.brokerID, l.agencyID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}
