package cvio

import (
	"go.uber.org/fx"

	"callconnect/ports"
)

// Module provides Payloads as ports.CallPayloads and Receipts as
// ports.CallbackReceipts.
var Module = fx.Module("cvio",
	fx.Provide(
		fx.Annotate(func() Payloads { return Payloads{} }, fx.As(new(ports.CallPayloads))),
		fx.Annotate(func() Receipts { return Receipts{} }, fx.As(new(ports.CallbackReceipts))),
	),
)
