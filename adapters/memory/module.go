package memory

import (
	"go.uber.org/fx"

	"callconnect/ports"
)

// Module provides the in-memory store as ports.Store, for tests that run the
// service's wiring without PostgreSQL: use it in place of postgres.Module.
var Module = fx.Module("memory",
	fx.Provide(fx.Annotate(NewStore, fx.As(new(ports.Store)))),
)
