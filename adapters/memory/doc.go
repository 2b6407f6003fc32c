// Package memory implements every port in process memory, for fast and
// deterministic app tests: a Store whose transactions really roll back, a
// Clock the test sets, and a Random whose ids and bytes repeat from run to
// run. They pass the same ports/portstest suites as the production adapters,
// so what an app test sees is what PostgreSQL would do.
package memory
