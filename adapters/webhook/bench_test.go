package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"callconnect/adapters/webhook"
	"callconnect/ports"
)

// BenchmarkDeliver puts the adapter next to its floor: a plain net/http
// POST of the same body to the same loopback partner. Compare
// client=webhook with client=nethttp (same sub-benchmark shape); the
// difference is signing, the guard's resolution and checks, trace context
// and the answer's bounding.
//
//	go test -run '^$' -bench BenchmarkDeliver -benchmem ./adapters/webhook/
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	req := ports.PartnerRequest{URL: srv.URL + "/ligar", Body: callBody, WebhookID: "msg_01JABC",
		Secrets: []string{secretNew, secretOld}, Timestamp: time.Now()}

	client := webhook.New(webhook.Config{AllowPrivate: true})
	defer client.CloseIdleConnections()
	viaWebhook := func(b *testing.B) {
		if resp := client.Deliver(context.Background(), req); resp.Err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("%+v", resp)
		}
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = webhook.DefaultMaxIdleConnsPerHost // same pool, a fair floor
	plain := &http.Client{Transport: transport, Timeout: webhook.DefaultTimeout}
	defer transport.CloseIdleConnections()
	viaNetHTTP := func(b *testing.B) {
		r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, req.URL, bytes.NewReader(req.Body))
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := plain.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}

	for _, c := range []struct {
		name string
		post func(*testing.B)
	}{{"client=webhook", viaWebhook}, {"client=nethttp", viaNetHTTP}} {
		b.Run("serial/"+c.name, func(b *testing.B) {
			for b.Loop() {
				c.post(b)
			}
		})
		b.Run("parallel/"+c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.post(b)
				}
			})
		})
	}
}
