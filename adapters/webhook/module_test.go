package webhook_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"callconnect/adapters/webhook"
	"callconnect/ports"
)

func TestModuleProvidesThePartnerClient(t *testing.T) {
	p := newPartner(t, nil)
	var client ports.PartnerClient
	app := fxtest.New(t,
		fx.Supply(webhook.Config{AllowPrivate: true}, fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider)))),
		webhook.Module,
		fx.Populate(&client),
	)
	app.RequireStart()
	defer app.RequireStop()

	if resp := client.Deliver(context.Background(), request(p.URL)); resp.Err != nil || resp.StatusCode != 200 {
		t.Fatalf("resp = %+v", resp)
	}
	verify(t, p.only(t), secretNew)
}

// Without AllowPrivate in the supplied Config, the guard is on.
func TestModuleGuardsByDefault(t *testing.T) {
	p := newPartner(t, nil)
	var client ports.PartnerClient
	app := fxtest.New(t, fx.Supply(webhook.Config{}, fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider)))), webhook.Module, fx.Populate(&client))
	app.RequireStart()
	defer app.RequireStop()
	if resp := client.Deliver(context.Background(), request(p.URL)); resp.Err == nil {
		t.Fatalf("delivered to loopback: %+v", resp)
	}
}
