package httpapi_test

import (
	"strings"
	"testing"
)

// TestOpenAPIIdempotencyKey: every /v1 POST documents the Idempotency-Key
// header and the 409 and 422 it may bring; no other /v1 operation has it.
func TestOpenAPIIdempotencyKey(t *testing.T) {
	doc := document(t)
	posts := 0
	for path, item := range obj(doc["paths"]) {
		for method, op := range obj(item) {
			var header map[string]any
			params, _ := obj(op)["parameters"].([]any)
			for _, p := range params {
				if obj(p)["in"] == "header" && obj(p)["name"] == "Idempotency-Key" {
					header = obj(p)
				}
			}
			if !strings.HasPrefix(path, "/v1/") {
				continue // the partner callbacks document their own
			}
			if method != "post" {
				if header != nil {
					t.Errorf("%s %s documents Idempotency-Key", method, path)
				}
				continue
			}
			posts++
			if header == nil {
				t.Errorf("POST %s does not document Idempotency-Key", path)
				continue
			}
			if header["required"] == true || !strings.Contains(header["description"].(string), "idempotency_key_reused") {
				t.Errorf("POST %s: Idempotency-Key %v", path, header)
			}
			schema := obj(header["schema"])
			if schema["maxLength"] != float64(255) || schema["minLength"] != float64(1) {
				t.Errorf("POST %s: Idempotency-Key schema %v", path, schema)
			}
			responses := obj(obj(op)["responses"])
			for _, code := range []string{"409", "422"} {
				if responses[code] == nil {
					t.Errorf("POST %s does not document %s", path, code)
				}
			}
		}
	}
	if posts < 9 {
		t.Errorf("%d /v1 POSTs documented, want every one of them (at least 9)", posts)
	}
}
