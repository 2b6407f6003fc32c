package postgres

// ListCallsQuery is the statement ListCalls runs, for EXPLAIN in the
// calls list's plan test.
var ListCallsQuery = listCallsQuery
