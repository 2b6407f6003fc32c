// Command callconnect runs the Call Connect service.
//
//	callconnect serve [--no-migrate]   migrate the schema (unless told not to) and serve HTTP
//	callconnect demo                   serve with a demo environment, a partner-sim and a pretend CRM at /demo/
//	callconnect migrate                migrate the schema and exit
//	callconnect openapi                print the OpenAPI 3.1 document and exit
//	callconnect partner-sim            a reference partner: receives calls, reports results back
//	callconnect partner-check URL      checks a partner's endpoint: signature, timestamp, replay
//	callconnect healthcheck            GET /healthz of the service on HTTP_ADDR; exit 0 when it answers 200
//	callconnect version                print the version and the commit it was built from
//
// Configuration comes from the environment: `callconnect --help` lists
// every variable (the settings table of config.go), as does docs/operations.md.
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

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: callconnect <command> [flags]

commands:
  serve [--no-migrate]  migrate the database schema, then serve HTTP until SIGINT/SIGTERM
  demo [flags]          serve as serve does, with a demo environment, a partner-sim and a pretend CRM at /demo/ (make demo)
  migrate               migrate the database schema and exit
  openapi               print the OpenAPI 3.1 document and exit
  partner-sim [flags]   a reference partner to point an integration at (partner-sim --help)
  partner-check URL     check a partner's endpoint before it goes live (partner-check --help)
  healthcheck [--url U] GET /healthz of the service on HTTP_ADDR (or U); exit 0 when it answers 200
  version               print the version and the commit it was built from (also --version)
  help                  print this help (also --help, and <command> --help)

`

// writeUsage prints the commands and every configuration variable.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	writeSettings(w)
}

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
	case "version", "--version", "-version":
		fmt.Fprint(stdout, readBuildInfo())
		return 0
	case "help", "-h", "-help", "--help":
		writeUsage(stdout)
		return 0
	}
	flags, code, ok := parseFlags(cmd, rest, stdout, stderr)
	if !ok {
		return code
	}
	if cmd == "healthcheck" {
		return healthcheck(flags.healthURL, getenv, stderr)
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect: configuration is invalid:\n%v\n", err)
		return 2
	}
	return runService(cmd, flags, cfg, getenv, stdout, stderr)
}

// commandFlags are the flags of the service's commands.
type commandFlags struct {
	noMigrate bool         // serve
	healthURL string       // healthcheck
	demo      demoSettings // demo
}

// parseFlags reads cmd's flags from args. When it is not ok, the command
// ends with code: its --help was printed (0), or a flag was bad (2).
func parseFlags(cmd string, args []string, stdout, stderr io.Writer) (f commandFlags, code int, ok bool) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch cmd {
	case "demo":
		demoFlags(fs, &f.demo)
	case "serve":
		fs.BoolVar(&f.noMigrate, "no-migrate", false, "do not migrate the schema before serving (another replica or a deploy step does it)")
	case "healthcheck":
		fs.StringVar(&f.healthURL, "url", "", "the URL to GET instead of http://HTTP_ADDR/healthz")
	}
	fs.Usage = func() {} // the help goes to stdout below; a bad flag's error to stderr
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// <command> --help: the command's flags, and the configuration.
			fmt.Fprintf(stdout, "usage: callconnect %s [flags]\n", cmd)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprintln(stdout)
			writeSettings(stdout)
			return f, 0, false
		}
		fmt.Fprintf(stderr, "run callconnect %s --help for its flags\n", cmd)
		return f, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callconnect %s: unexpected arguments %q\n", cmd, fs.Args())
		return f, 2, false
	}
	return f, 0, true
}

// runService runs one of the commands that read the service's
// configuration, cfg.
func runService(cmd string, f commandFlags, cfg Config, getenv func(string) string, stdout, stderr io.Writer) int {
	switch cmd {
	case "serve", "demo":
		if err := cfg.RequireServe(); err != nil {
			fmt.Fprintf(stderr, "callconnect: configuration is incomplete:\n%v\n", err)
			return 2
		}
		tuneGC(getenv)
		if cmd == "demo" {
			return runDemo(cfg, f.demo, getenv, stdout, stderr)
		}
		return serve(cfg, getenv, !f.noMigrate, stdout, stderr)
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
