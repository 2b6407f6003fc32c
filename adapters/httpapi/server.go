package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server timeouts. Read-header and read bound slow clients (slowloris);
// write bounds a stuck response; idle closes forgotten keep-alive connections.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 120 * time.Second
	// MaxHeaderBytes bounds request headers (the body is bounded by Config.MaxBodyBytes).
	MaxHeaderBytes = 64 << 10
	// TransferTimeout replaces ReadTimeout (and WriteTimeout) for the requests
	// that move recordings: an authenticated partner's callback, whose body
	// may be 70 MB, and a recording's download. At 2 Mbit/s 70 MB take ~5 min.
	TransferTimeout = 6 * time.Minute
)

// NewServer returns the http.Server for h on addr with the service's
// timeouts set. The caller starts it and shuts it down.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// errDraining is what readiness says while the server drains.
var errDraining = errors.New("the service is shutting down")

// drain is a server's shutdown state. Once it has begun, readiness fails,
// so that load balancers stop sending requests while the server still
// accepts and serves them. Once the server shuts down, its event streams
// are told to end (stopping), so that they do not hold the shutdown up.
type drain struct {
	begun    atomic.Bool
	stopping chan struct{}
	stopOnce sync.Once
}

func newDrain() *drain { return &drain{stopping: make(chan struct{})} }

func (d *drain) begin() { d.begun.Store(true) }

// stop ends the event streams (Ops.Stopping).
func (d *drain) stop() { d.stopOnce.Do(func() { close(d.stopping) }) }

// ready wraps a readiness check (nil: always ready) so that it fails once
// the drain has begun.
func (d *drain) ready(check func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if d.begun.Load() {
			return errDraining
		}
		if check == nil {
			return nil
		}
		return check(ctx)
	}
}
