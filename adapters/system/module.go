package system

import (
	"go.uber.org/fx"

	"callconnect/ports"
)

// Module provides the real clock and randomness as ports.Clock and ports.Random.
var Module = fx.Module("system",
	fx.Provide(
		fx.Annotate(func() Clock { return Clock{} }, fx.As(new(ports.Clock))),
		fx.Annotate(NewRandom, fx.As(new(ports.Random))),
	),
)
