// Package system implements the Clock and Random ports with the operating
// system: the wall clock, and ids and key material from crypto/rand.
package system
