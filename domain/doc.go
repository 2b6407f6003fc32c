// Package domain holds the rules of Call Connect: environments, users, leads,
// telephony integrations and the call-button decision. It imports the standard
// library only, performs no I/O and never reads the clock; callers pass time in.
package domain
