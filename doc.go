// Package callconnect is the root of Call Connect, the service that lets a CRM
// user place a call to a lead through a partner's telephony system. The code
// lives in the packages below it, laid out as a hexagon (see docs/architecture.md):
// domain holds the rules, app the use cases, ports the interfaces the use
// cases need, adapters their implementations, and cmd/callconnect wires them.
// This package holds no code; its tests guard that layout.
package callconnect
