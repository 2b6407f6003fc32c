package postgres

// ListExchangesQuery is the statement ListExchanges runs, for EXPLAIN in the
// monitor's benchmark.
var ListExchangesQuery = listExchangesQuery
