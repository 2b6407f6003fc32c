package cvio

import (
	"go.uber.org/fx"

	"callconnect/ports"
)

// Module provides Payloads as ports.CallPayloads.
var Module = fx.Module("cvio",
	fx.Provide(fx.Annotate(func() Payloads { return Payloads{} }, fx.As(new(ports.CallPayloads)))),
)
