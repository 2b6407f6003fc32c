package system

import (
	"time"

	"callconnect/ports"
)

// Clock is the wall clock.
type Clock struct{}

var _ ports.Clock = Clock{}

// Now returns time.Now().
func (Clock) Now() time.Time { return time.Now() }
