package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheckTimeout bounds the whole check, so that a hung service fails
// it rather than outlasting the orchestrator's own timeout.
const healthcheckTimeout = 5 * time.Second

// healthcheck GETs /healthz of the service this process's environment
// describes (HTTP_ADDR), or target when given, and returns 0 when it
// answers 200. It is the image's HEALTHCHECK: the image has no shell and
// no curl, only this binary.
func healthcheck(target string, getenv func(string) string, stderr io.Writer) int {
	if target == "" {
		addr := strings.TrimSpace(getenv("HTTP_ADDR"))
		if addr == "" {
			addr = settingDefault("HTTP_ADDR")
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			fmt.Fprintf(stderr, "callconnect healthcheck: HTTP_ADDR: must be host:port, got %q\n", addr)
			return 2
		}
		// A service listening on every address is reached on loopback.
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		target = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect healthcheck: %v\n", err)
		return 2
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect healthcheck: %v\n", err)
		return 1
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "callconnect healthcheck: %s answered %s\n", target, res.Status)
		return 1
	}
	return 0
}
