package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"callconnect/adapters/webhook"
)

// The example of the Standard Webhooks specification (and Svix's docs): the
// same inputs must give the same bytes.
func TestSignMatchesTheSpecificationExample(t *testing.T) {
	got, err := webhook.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`), []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

// Every secret's signature verifies with the reference implementation on its
// own: a partner that still holds the previous secret during the grace
// period accepts the request, as does one that has switched.
func TestSignVerifiesWithTheReferenceLibraryForEverySecret(t *testing.T) {
	secrets := []string{"whsec_bmV3ZXN0LXNlY3JldA==", "whsec_cHJldmlvdXMtc2VjcmV0", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	body := []byte(`{"idlead":"1","call-back do lead":"https://x.example/api/cvio/lead?idligacao=01J"}`)
	ts := time.Now()
	sig, err := webhook.Sign("msg_01JABC", ts, body, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(sig, " ")); n != len(secrets) {
		t.Fatalf("signature header has %d parts, want %d: %q", n, len(secrets), sig)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_01JABC")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("secret %s…: %v", s[:10], err)
		}
	}
	// And a secret that did not sign does not verify, nor does a changed body.
	other, _ := standardwebhooks.NewWebhook("whsec_b2xkZXN0LXNlY3JldA==")
	if err := other.Verify(body, h); err == nil {
		t.Error("a secret that did not sign verified")
	}
	first, _ := standardwebhooks.NewWebhook(secrets[0])
	if err := first.Verify(append(body, ' '), h); err == nil {
		t.Error("a changed body verified")
	}
}

func TestSignRefusesBadSecrets(t *testing.T) {
	for name, secrets := range map[string][]string{
		"none":           nil,
		"no prefix":      {"bmV3ZXN0LXNlY3JldA=="},
		"not base64":     {"whsec_not base64!"},
		"empty key":      {"whsec_"},
		"one bad of two": {"whsec_bmV3ZXN0LXNlY3JldA==", "whsec_%%%"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := webhook.Sign("msg_1", time.Unix(1, 0), []byte("{}"), secrets)
			if !errors.Is(err, webhook.ErrBadSecret) {
				t.Fatalf("err = %v, want ErrBadSecret", err)
			}
			for _, s := range secrets {
				if len(s) > len("whsec_") && strings.Contains(err.Error(), s[len("whsec_"):]) {
					t.Errorf("error %q shows the secret", err)
				}
			}
		})
	}
}

// Secrets without base64 padding (some providers issue them so) sign like
// their padded form.
func TestSignAcceptsUnpaddedSecrets(t *testing.T) {
	a, err1 := webhook.Sign("msg_1", time.Unix(1, 0), []byte("{}"), []string{"whsec_bmV3ZXN0LXNlY3JldA=="})
	b, err2 := webhook.Sign("msg_1", time.Unix(1, 0), []byte("{}"), []string{"whsec_bmV3ZXN0LXNlY3JldA"})
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("padded %q (%v) != unpadded %q (%v)", a, err1, b, err2)
	}
}

func TestSignRefusesAnIDThatCannotBeAHeader(t *testing.T) {
	for _, id := range []string{"", "msg 1", "msg\r\nX-Evil: 1"} {
		if _, err := webhook.Sign(id, time.Unix(1, 0), nil, []string{"whsec_bmV3ZXN0LXNlY3JldA=="}); err == nil {
			t.Errorf("Sign(%q) signed", id)
		}
	}
}
