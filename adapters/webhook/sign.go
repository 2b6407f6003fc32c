package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// ErrBadSecret is wrapped by Sign when a secret is not "whsec_" followed by
// base64, or when there is no secret at all: nothing is sent unsigned.
var ErrBadSecret = errors.New("invalid signing secret")

// Sign computes the Standard Webhooks webhook-signature header value for one
// message: for each secret, in the order given, "v1," followed by the
// base64 HMAC-SHA256 of "{id}.{unix seconds}.{body}" keyed with the bytes the
// secret encodes, the signatures separated by single spaces. Signing with
// every secret still in its grace period lets a partner that has not yet
// switched to a rotated secret verify with the old one.
//
// The error names the position of a bad secret, never its value.
func Sign(id string, ts time.Time, body []byte, secrets []string) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("%w: none given", ErrBadSecret)
	}
	if id == "" || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		// It is sent as the webhook-id header: no spaces or control characters.
		return "", fmt.Errorf("webhook id %q must be non-empty, without spaces or control characters", id)
	}
	prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	var out strings.Builder
	for i, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", fmt.Errorf("%w: secret #%d: %v", ErrBadSecret, i+1, err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(prefix))
		mac.Write(body)
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString("v1,")
		out.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return out.String(), nil
}

// secretKey decodes the key bytes of a "whsec_" secret. Standard base64 is
// what the service generates and what the specification uses; unpadded
// base64 is accepted too, since some providers' secrets come without padding.
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil {
		return nil, errors.New("is not base64 after " + SecretPrefix)
	}
	if len(key) == 0 {
		return nil, errors.New("is empty")
	}
	return key, nil
}
