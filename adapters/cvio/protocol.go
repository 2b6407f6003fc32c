package cvio

import "callconnect/domain"

// Payloads makes the partner's request bodies (ports.CallPayloads).
type Payloads struct{}

// CallPayload is PartnerPayload.
func (Payloads) CallPayload(in domain.PartnerPayloadInput) ([]byte, error) { return PartnerPayload(in) }
