package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// register adds an operation with what every operation of this service
// shares: the body limit, the logger for internal errors, the record of where
// each input travels (so that a domain error's field is located as path.x,
// query.x or body.x), and for /v1
// the bearer security requirement, its 401 and its 429.
func register[I, O any](api huma.API, h *handlers, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[metaFields] = inputFields(reflect.TypeFor[I]())
	op.Metadata[metaLogger] = h.logger
	// One byte more than the limit: huma answers 413 when it reads exactly its
	// limit, and http.MaxBytesReader (limitBody) already stops at the limit, so
	// a body of exactly MaxBodyBytes is accepted and anything longer is a 413.
	op.MaxBodyBytes = h.maxBody + 1
	if strings.HasPrefix(op.Path, "/v1/") {
		op.Security = v1Security
		// 429: too many wrong admin tokens from the client's address.
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusTooManyRequests)
	} else if op.Security == nil {
		op.Security = publicSecurity
	}
	if hasBody(reflect.TypeFor[I]()) {
		op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	}
	idempotentPOST(api, h, &op)
	slices.Sort(op.Errors)
	op.Errors = slices.Compact(op.Errors)
	huma.Register(api, op, handler)
}

// inputFields maps every input name of an operation's input struct to where
// it travels: "path", "query" or "body".
func inputFields(t reflect.Type) map[string]string {
	out := map[string]string{}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		switch {
		case f.Tag.Get("path") != "":
			out[f.Tag.Get("path")] = "path"
		case f.Tag.Get("query") != "":
			out[strings.Split(f.Tag.Get("query"), ",")[0]] = "query"
		case f.Name == "Body":
			bt := f.Type
			for bt.Kind() == reflect.Pointer {
				bt = bt.Elem()
			}
			if bt.Kind() != reflect.Struct {
				continue
			}
			for j := 0; j < bt.NumField(); j++ {
				name, _, _ := strings.Cut(bt.Field(j).Tag.Get("json"), ",")
				if name != "" && name != "-" {
					out[name] = "body"
				}
			}
		case f.Anonymous:
			for k, v := range inputFields(f.Type) {
				out[k] = v
			}
		}
	}
	return out
}

func hasBody(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	_, ok := t.FieldByName("Body")
	return ok
}
