// Command pgcluster starts, stops and locates a PostgreSQL cluster that lives in
// one directory, built with the PostgreSQL server binaries installed on the
// machine. `make run` keeps a checkout's development cluster with it
// (pgcluster start -checkout .), and `make test` a throw-away one per run.
//
// Usage:
//
//	pgcluster start (-dir DIR | -checkout PATH) [-port N] [-ephemeral | -durable]
//	pgcluster stop  (-dir DIR | -checkout PATH)
//	pgcluster url   (-dir DIR | -checkout PATH)
//	pgcluster dir   -checkout PATH
//
// -checkout PATH names the cluster of the checkout at PATH instead of a
// directory, as `make run` and `make stop` do: the checkout's
// .data/postgres for an ordinary user; as root, a directory outside the
// checkout named after its path, /var/tmp/callconnect-<12 hex digits of
// the SHA-256 of its absolute path>/postgres, because the postgres user
// that then runs the server may not be able to enter the checkout (a root
// home is 0700). A cluster already in .data/postgres stays there. dir
// prints that directory and nothing else.
//
// start creates the cluster when DIR holds none (initdb), starts it listening
// on 127.0.0.1 only, with its Unix socket inside DIR and password-less (trust)
// access for loopback connections, waits until it accepts connections,
// creates the database callconnect when missing and prints
//
//	postgres://postgres@127.0.0.1:PORT/callconnect?sslmode=disable
//
// on stdout, and nothing else there. A start on a running cluster reuses it
// and prints the same URL. -port 0 (the default) reuses the port remembered in
// DIR, or picks a free one. -ephemeral turns durability off (fsync and
// friends): only for clusters thrown away after the run. -durable writes
// fsync, synchronous_commit and full_page_writes on (PostgreSQL's defaults,
// spelled out) with the connection limit of -ephemeral: a cluster that keeps
// every commit as a deployment would, for measurements (make bench). The
// settings are written at each start; a start that finds the cluster already
// running with durability off refuses -durable rather than report a durable
// cluster that is not.
//
// stop stops the cluster (fast shutdown); it succeeds when nothing runs.
// url prints the URL of the running cluster.
//
// PostgreSQL refuses to run as root, so when pgcluster runs as root it runs
// the server binaries as the postgres user through runuser(1) and hands DIR
// to that user; every directory above DIR must then be enterable by postgres.
//
// The server binaries are looked up in $PG_BINDIR, then next to pg_ctl on
// PATH, then under /usr/lib/postgresql/*/bin (Debian and Ubuntu), newest first.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  pgcluster start -dir DIR [-port N] [-ephemeral | -durable]   create (if needed) and start the cluster; print its URL
  pgcluster stop  -dir DIR                                     stop the cluster
  pgcluster url   -dir DIR                                     print the URL of the running cluster
  pgcluster dir   -checkout PATH                               print the directory of the checkout's cluster
Instead of -dir DIR, -checkout PATH names the cluster of the checkout at PATH (see pgcluster dir).
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "pgcluster: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing subcommand")
	}
	inv, done, err := parseInvocation(args[0], args[1:], stdout, stderr)
	if err != nil || done {
		return err
	}
	where, err := inv.where()
	if err != nil {
		return err
	}
	if inv.name == "dir" {
		fmt.Fprintln(stdout, where)
		return nil
	}
	c, err := newCluster(where, stderr)
	if err != nil {
		return err
	}
	switch inv.name {
	case "start":
		return inv.start(c, stdout)
	case "stop":
		return c.stop()
	case "url":
		url, err := c.url()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, url)
	}
	return nil
}

// invocation is a subcommand and its flags.
type invocation struct {
	name               string
	dir, checkout      string
	port               int  // start only
	ephemeral, durable bool // start only
}

// parseInvocation reads the flags of subcommand name; done means it was
// answered already (help).
func parseInvocation(name string, args []string, stdout, stderr io.Writer) (inv invocation, done bool, err error) {
	fs := flag.NewFlagSet("pgcluster "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&inv.checkout, "checkout", "", "the checkout whose cluster this is (its .data/postgres, or as root a directory outside it named after its path)")
	if name != "dir" {
		fs.StringVar(&inv.dir, "dir", "", "directory that holds the cluster (created when missing)")
	}
	switch name {
	case "dir":
	case "start":
		fs.IntVar(&inv.port, "port", 0, "TCP port on 127.0.0.1; 0 reuses the remembered port or picks a free one")
		fs.BoolVar(&inv.ephemeral, "ephemeral", false, "turn durability off (fsync=off): only for throw-away clusters")
		fs.BoolVar(&inv.durable, "durable", false, "fsync, synchronous_commit and full_page_writes on, and as many connections as -ephemeral: for measurements")
	case "stop", "url":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return inv, true, nil
	default:
		fmt.Fprint(stderr, usage)
		return inv, false, fmt.Errorf("unknown subcommand %q", name)
	}
	if err := fs.Parse(args); err != nil {
		return inv, false, err
	}
	if fs.NArg() > 0 {
		return inv, false, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	inv.name = name
	return inv, false, nil
}

// where is the cluster's directory: -dir, or the one -checkout names.
func (inv invocation) where() (string, error) {
	where := ""
	switch {
	case inv.name == "dir" && inv.checkout == "":
		return "", errors.New("dir: -checkout is required")
	case inv.name == "dir":
	case inv.dir != "" && inv.checkout != "":
		return "", fmt.Errorf("%s: %w", inv.name, errBothPlaces)
	case inv.dir == "" && inv.checkout == "":
		return "", fmt.Errorf("%s: -dir or -checkout is required", inv.name)
	default:
		where = inv.dir
	}
	if inv.checkout != "" {
		return clusterDirFor(inv.checkout, os.Geteuid() == 0)
	}
	return where, nil
}

// start starts c in the durability the flags ask for and prints its URL.
func (inv invocation) start(c *cluster, stdout io.Writer) error {
	if inv.port < 0 || inv.port > 65535 {
		return fmt.Errorf("start: -port %d is not a TCP port", inv.port)
	}
	if inv.ephemeral && inv.durable {
		return errors.New("start: -ephemeral and -durable contradict each other: choose one")
	}
	mode := modeDefault
	switch {
	case inv.ephemeral:
		mode = modeEphemeral
	case inv.durable:
		mode = modeDurable
	}
	url, err := c.start(inv.port, mode)
	if err != nil {
		return err
	}
	if inv.checkout != "" {
		if err := noteCheckout(c.dir, inv.checkout); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, url)
	return nil
}
