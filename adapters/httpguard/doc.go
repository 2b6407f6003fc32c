// Package httpguard holds what the HTTP API and the operator console both
// guard their doors with: the admin tokens a deployment accepts, the
// trusted proxies through which a request's client address is read, and
// the per-key rate limits (the failed sign-ins per client address among
// them). It is a leaf that both adapters share; it imports nothing of the
// module.
package httpguard
