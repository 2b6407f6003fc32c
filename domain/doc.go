// Package domain holds the rules of Call Connect: environments, users, leads,
// telephony integrations and the call-button decision; the call's life cycle
// and the JSON sent to the partner; the partner's callbacks, recordings,
// history entries and tokens; and the monitor's view of an exchange. It
// imports the standard library only, performs no I/O of its own (a
// callback's body is read, and its recordings written, through the reader
// and writers the caller hands ReadCallbackBody) and never reads the clock;
// callers pass time in.
package domain
