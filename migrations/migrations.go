// Package migrations holds the goose SQL migrations of the Call Connect
// schema, embedded so that the binary migrates without files on disk.
// adapters/postgres runs them; sqlc reads them as the schema.
package migrations

import "embed"

// FS holds every migration, named NNNNN_what.sql in the order they apply.
//
//go:embed *.sql
var FS embed.FS
