package cvio

import (
	"encoding/json"
	"fmt"

	"callconnect/domain"
)

// Answer is what every callback answers (200), in the partner's JSON.
type Answer struct {
	LeadID           string   `json:"lead_id" doc:"The lead the callback landed on." example:"1"`
	CallID           *string  `json:"call_id" doc:"The call it landed on; null when it could not be tied to one." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	CallStatus       *string  `json:"call_status" doc:"The call's status afterwards; null without a call." example:"completed"`
	InteractionIDs   []string `json:"interaction_ids" nullable:"false" doc:"The history entries recorded."`
	RecordingIDs     []string `json:"recording_ids" nullable:"false" doc:"The recordings stored, in the order of the interactions that carried them."`
	RecordingSHA256s []string `json:"recording_sha256s" nullable:"false" doc:"The SHA-256 (hex) of each stored recording's audio, in the order of recording_ids."`
	Duplicates       int      `json:"duplicates" doc:"Interactions left out because the lead already had exactly them (a repeated result)."`
}

// EncodeReceipt is the answer's JSON. The same receipt always gives the
// same bytes, so a replayed Idempotency-Key answers byte for byte.
func EncodeReceipt(r domain.CallbackReceipt) ([]byte, error) {
	a := Answer{LeadID: r.LeadID, InteractionIDs: nonNil(r.InteractionIDs), RecordingIDs: nonNil(r.RecordingIDs),
		RecordingSHA256s: nonNil(r.RecordingSHA256s), Duplicates: r.Duplicates}
	if r.CallID != "" {
		id, status := r.CallID, string(r.CallStatus)
		a.CallID, a.CallStatus = &id, &status
	}
	return json.Marshal(a)
}

// DecodeReceipt reads an answer EncodeReceipt wrote.
func DecodeReceipt(b []byte) (domain.CallbackReceipt, error) {
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		return domain.CallbackReceipt{}, fmt.Errorf("reading a callback answer: %w", err)
	}
	r := domain.CallbackReceipt{LeadID: a.LeadID, InteractionIDs: a.InteractionIDs, RecordingIDs: a.RecordingIDs,
		RecordingSHA256s: a.RecordingSHA256s, Duplicates: a.Duplicates}
	if a.CallID != nil {
		r.CallID = *a.CallID
	}
	if a.CallStatus != nil {
		r.CallStatus = domain.CallStatus(*a.CallStatus)
	}
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Receipts keeps callback answers for Idempotency-Key replays in the
// partner's JSON (ports.CallbackReceipts).
type Receipts struct{}

func (Receipts) EncodeReceipt(r domain.CallbackReceipt) ([]byte, error) { return EncodeReceipt(r) }
func (Receipts) DecodeReceipt(b []byte) (domain.CallbackReceipt, error) { return DecodeReceipt(b) }
