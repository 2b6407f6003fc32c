package webhook_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"

	"callconnect/adapters/webhook"
	"callconnect/ports"
)

// An allowed address (a partner simulator on loopback) is reached without
// AllowPrivate, and it alone: the same host on another port, or by name,
// is refused as before.
func TestDeliverReachesAllowedAddressesOnly(t *testing.T) {
	allowed := newPartner(t, nil)
	other := newPartner(t, nil)
	addr := netip.MustParseAddrPort(allowed.Listener.Addr().String())
	c := webhook.New(webhook.Config{AllowedAddrs: []netip.AddrPort{addr}})

	resp := c.Deliver(context.Background(), request(allowed.URL+"/calls"))
	if resp.Err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("the allowed partner: %+v", resp)
	}
	if n := len(allowed.received()); n != 1 {
		t.Fatalf("the allowed partner received %d requests, want 1", n)
	}
	port := strconv.Itoa(int(addr.Port()))
	for _, u := range []string{
		other.URL + "/calls",
		"http://localhost:" + port + "/calls",
		"http://[::1]:" + port + "/calls",
		"http://127.0.0.2:" + port + "/calls",
	} {
		resp := c.Deliver(context.Background(), request(u))
		if !errors.Is(resp.Err, ports.ErrBlockedDestination) {
			t.Errorf("%s: %+v, want ErrBlockedDestination", u, resp)
		}
	}
	if n := len(other.received()); n != 0 {
		t.Fatalf("the other partner received %d requests", n)
	}
}
