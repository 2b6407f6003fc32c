// Package kindstatus holds the one table from a domain error's kind to the
// HTTP status clients get: the HTTP API answers with it, and the operator
// console shows the same errors with the same statuses. It is a leaf that
// both adapters share; it imports nothing of the module but domain.
package kindstatus

import (
	"net/http"

	"callconnect/domain"
)

var table = map[domain.Kind]int{
	domain.KindInvalid:   http.StatusUnprocessableEntity,
	domain.KindNotFound:  http.StatusNotFound,
	domain.KindForbidden: http.StatusForbidden,
	domain.KindConflict:  http.StatusConflict,

	domain.KindUnauthenticated: http.StatusUnauthorized,
	domain.KindTooLarge:        http.StatusRequestEntityTooLarge,
	domain.KindUnsupported:     http.StatusUnsupportedMediaType,
	domain.KindMalformed:       http.StatusBadRequest,
}

// Of is the HTTP status of a domain error of kind k; false for a kind the
// table does not know.
func Of(k domain.Kind) (int, bool) {
	status, ok := table[k]
	return status, ok
}
