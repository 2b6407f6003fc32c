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
