// Package portstest holds the contract suites every adapter of the ports must
// pass. The in-memory adapters that app tests use and the PostgreSQL adapter
// run the same suites, so a behaviour an app test relies on holds in
// production too. Each suite is an ordinary function taking a *testing.T; an
// adapter's own tests call it with a constructor:
//
//	func TestStore(t *testing.T) {
//		portstest.RunStore(t, func(t *testing.T) portstest.Harness {
//			s := newStoreOnAFreshDatabase(t)
//			return portstest.Harness{Store: s, TakeDeliveries: ..., Exchanges: ...}
//		})
//	}
package portstest
