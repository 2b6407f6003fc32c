package console

import "go.uber.org/fx"

// Module provides the *Console, from the Config and Services in the graph.
// The HTTP server mounts it at Path.
var Module = fx.Module("console", fx.Provide(New))
