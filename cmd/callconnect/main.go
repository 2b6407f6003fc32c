// Command callconnect runs the Call Connect service.
//
//	callconnect serve [--no-migrate]   migrate the schema (unless told not to) and serve HTTP
//	callconnect migrate                migrate the schema and exit
//	callconnect openapi                print the OpenAPI 3.1 document and exit
//	callconnect partner-sim            a reference partner: receives calls, reports results back
//	callconnect partner-check URL      checks a partner's endpoint: signature, timestamp, replay
//
// Configuration comes from the environment; see the README's table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: callconnect <command>

commands:
  serve [--no-migrate]  migrate the database schema, then serve HTTP until SIGINT/SIGTERM
  migrate               migrate the database schema and exit
  openapi               print the OpenAPI 3.1 document and exit
  partner-sim [flags]   a reference partner to point an integration at (partner-sim --help)
  partner-check URL     check a partner's endpoint before it goes live (partner-check --help)
  version               print the version

Configuration is read from environment variables (DATABASE_URL, HTTP_ADDR,
CALLCONNECT_ADMIN_TOKEN, CALLCONNECT_SECRETS_KEY, ...); see README.md.
`

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	// The partner tools have flags of their own and read none of the
	// service's configuration.
	switch cmd {
	case "partner-sim":
		return partnerSimCommand(rest, getenv, stdout, stderr)
	case "partner-check":
		return partnerCheckCommand(rest, getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	noMigrate := false
	if cmd == "serve" {
		fs.BoolVar(&noMigrate, "no-migrate", false, "do not migrate the schema before serving (another replica or a deploy step does it)")
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callconnect %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect: configuration is invalid:\n%v\n", err)
		return 2
	}
	switch cmd {
	case "serve":
		if err := cfg.RequireServe(); err != nil {
			fmt.Fprintf(stderr, "callconnect: configuration is incomplete:\n%v\n", err)
			return 2
		}
		return serve(cfg, getenv, !noMigrate, stdout, stderr)
	case "migrate":
		if err := cfg.RequireDatabase(); err != nil {
			fmt.Fprintf(stderr, "callconnect: %v\n", err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := migrate(ctx, cfg); err != nil {
			fmt.Fprintf(stderr, "callconnect migrate: %v\n", err)
			return 1
		}
		fmt.Fprintln(stderr, "callconnect migrate: schema is current")
		return 0
	case "openapi":
		doc, err := openAPIDocument(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "callconnect openapi: %v\n", err)
			return 1
		}
		_, err = stdout.Write(append(doc, '\n'))
		return exitCode(err)
	case "version":
		fmt.Fprintln(stdout, version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "callconnect: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func exitCode(err error) int {
	if err != nil && !errors.Is(err, context.Canceled) {
		return 1
	}
	return 0
}
