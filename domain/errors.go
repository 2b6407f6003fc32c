package domain

import (
	"errors"
	"fmt"
)

// Kind classifies an Error so that the outer layers can map it to a response
// without knowing every code.
type Kind int

const (
	// KindInvalid: the input breaks a validation rule (a field is wrong).
	KindInvalid Kind = iota + 1
	// KindNotFound: a referenced resource does not exist in the environment.
	KindNotFound
	// KindForbidden: the actor may not do this, or the feature is switched off.
	KindForbidden
	// KindConflict: the request clashes with the current state.
	KindConflict
	// KindUnauthenticated: the caller's credentials are missing or wrong.
	KindUnauthenticated
	// KindTooLarge: the request (or a part, such as a recording) is over its limit.
	KindTooLarge
	// KindUnsupported: the content is of a type the service does not take.
	KindUnsupported
	// KindMalformed: the request cannot even be read (JSON that is not JSON).
	KindMalformed
)

// Error is a rule violation with a stable, machine-readable code.
type Error struct {
	Kind    Kind
	Code    string // stable: clients switch on it
	Field   string // the failing input field, when there is one (e.g. "body.phone")
	Message string // for humans
	// Ref is the id of a resource the error is about, when one is (the
	// call still under way of a call_in_progress); "" otherwise.
	Ref string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Stable error codes.
const (
	CodeInvalidField               = "invalid_field"
	CodeNotFound                   = "not_found"
	CodeEnvironmentNotFound        = "environment_not_found"
	CodeUserNotFound               = "user_not_found"
	CodeLeadNotFound               = "lead_not_found"
	CodeIntegrationNotFound        = "integration_not_found"
	CodeActorNotFound              = "actor_not_found"
	CodePermissionDenied           = "permission_denied"
	CodeFeatureNotEnabled          = "feature_not_enabled"
	CodeIntegrationActiveElsewhere = "integration_active_elsewhere"
	CodeIntegrationIncomplete      = "integration_incomplete"
	CodeTooManyLeads               = "too_many_leads"
)

func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound builds the error for a missing resource.
func NotFound(code, field, message string) *Error {
	return &Error{Kind: KindNotFound, Code: code, Field: field, Message: message}
}

// AsError extracts a domain *Error from err.
func AsError(err error) (*Error, bool) {
	var de *Error
	ok := errors.As(err, &de)
	return de, ok
}
