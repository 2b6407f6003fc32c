package ports

import "errors"

// ErrBlockedDestination is wrapped by a PartnerClient that refused to
// connect (a private address, a redirect to another host): trying again
// cannot help, so the call is undeliverable at once.
var ErrBlockedDestination = errors.New("destination refused by the delivery policy")
