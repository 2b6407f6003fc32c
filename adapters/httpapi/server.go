package httpapi

import (
	"net/http"
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
