package memory_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/domain"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestStore(t *testing.T) {
	portstest.RunStore(t, func(*testing.T) portstest.Harness {
		s := memory.NewStore()
		return portstest.Harness{Store: s, TakeDeliveries: s.TakeDeliveries, Exchanges: s.Exchanges, Retention: s, Expiry: s,
			LockWaiters: s.LockWaiters}
	})
}

func TestClock(t *testing.T) {
	portstest.RunClock(t, memory.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)))
}

func TestRandom(t *testing.T) {
	portstest.RunRandom(t, memory.NewRandom(1))
}

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := memory.NewClock(t0)
	if !c.Now().Equal(t0) || !c.Now().Equal(t0) {
		t.Fatalf("Now: got %v, want %v", c.Now(), t0)
	}
	if got := c.Advance(90 * time.Second); !got.Equal(t0.Add(90*time.Second)) || !c.Now().Equal(got) {
		t.Fatalf("Advance: got %v, Now %v", got, c.Now())
	}
	c.Set(t0.Add(-time.Hour))
	if !c.Now().Equal(t0.Add(-time.Hour)) {
		t.Fatalf("Set: got %v", c.Now())
	}
}

func TestRandomIsDeterministic(t *testing.T) {
	a, b, other := memory.NewRandom(7), memory.NewRandom(7), memory.NewRandom(8)
	if a.NewID() != "id-0000000000000001" || a.NewID() != "id-0000000000000002" {
		t.Fatal("ids do not count from 1")
	}
	x, y, z := a.Bytes(32), b.Bytes(32), other.Bytes(32)
	if !bytes.Equal(x, y) {
		t.Errorf("same seed, different bytes: %x and %x", x, y)
	}
	if bytes.Equal(x, z) {
		t.Errorf("different seeds, same bytes: %x", x)
	}
}

func TestNestedTxFails(t *testing.T) {
	s := memory.NewStore()
	var inner error
	err := s.Tx(context.Background(), func(ctx context.Context, _ ports.Repositories) error {
		inner = s.Tx(ctx, func(context.Context, ports.Repositories) error { return nil })
		return nil
	})
	if err != nil || inner == nil {
		t.Fatalf("outer %v, inner %v: want the inner Tx refused", err, inner)
	}
}

func TestRepositoriesEndWithTheirTransaction(t *testing.T) {
	s := memory.NewStore()
	var kept ports.Repositories
	if err := s.Tx(context.Background(), func(_ context.Context, r ports.Repositories) error { kept = r; return nil }); err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "e", Name: "E", PublicBaseURL: "https://e.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := kept.PutEnvironment(context.Background(), e); err == nil {
		t.Fatal("a write through the repositories of an ended Tx succeeded")
	}
	if err := s.Read(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.GetEnvironment(ctx, "e")
		return err
	}); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetEnvironment: %v, want not found", err)
	}
}

// The store cuts times to the microsecond, as PostgreSQL does, so that an app
// test cannot depend on a precision production does not have.
func TestStoreKeepsMicroseconds(t *testing.T) {
	s := memory.NewStore()
	ctx := context.Background()
	e, _ := domain.NewEnvironment(domain.EnvironmentInput{ID: "e", Name: "E", PublicBaseURL: "https://e.example.com"})
	reg := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	l, err := domain.NewLead(domain.LeadInput{EnvID: "e", ID: "l", Name: "L", RegisteredAt: &reg})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, e); err != nil {
			return err
		}
		return r.PutLead(ctx, l)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		got, err := r.GetLead(ctx, "e", "l")
		if err != nil {
			t.Fatal(err)
		}
		if want := reg.Truncate(time.Microsecond); !got.Input().RegisteredAt.Equal(want) {
			t.Errorf("registered_at: got %v, want %v", got.Input().RegisteredAt, want)
		}
		return nil
	})
}

// A caller writing through a secret's expiry pointer must not change the store.
func TestStoredIntegrationDoesNotAlias(t *testing.T) {
	s := memory.NewStore()
	ctx := context.Background()
	e, _ := domain.NewEnvironment(domain.EnvironmentInput{ID: "e", Name: "E", PublicBaseURL: "https://e.example.com"})
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	i := domain.RestoreIntegration("e", domain.ProviderCallConnect, false, "https://p.example.com", domain.DialByPhone,
		[]domain.SigningSecret{{Value: "whsec_a"}, {Value: "whsec_b", ExpiresAt: &exp}})
	err := s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, e); err != nil {
			return err
		}
		return r.PutIntegration(ctx, i)
	})
	if err != nil {
		t.Fatal(err)
	}
	list := func() []domain.Integration {
		var out []domain.Integration
		_ = s.Read(ctx, func(ctx context.Context, r ports.Repositories) (err error) {
			out, err = r.ListIntegrations(ctx, "e")
			return err
		})
		return out
	}
	*i.Secrets()[1].ExpiresAt = time.Time{}
	*list()[0].Secrets()[1].ExpiresAt = time.Time{}
	if got := list()[0].Secrets()[1].ExpiresAt; !got.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored expiry changed through a pointer the caller held: %v", got)
	}
}
