package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// database is created in every cluster; the printed URL points at it.
const database = "callconnect"

// Layout of a cluster directory.
const (
	dataSubdir = "data"            // PGDATA
	portFile   = "port"            // the port chosen at the last start
	logFile    = "postgres.log"    // server log (pg_ctl -l)
	lockFile   = ".pgcluster.lock" // serialises concurrent pgcluster runs on one DIR
	confFile   = "pgcluster.conf"  // inside PGDATA, rewritten at every start
)

// durability is what a start writes about keeping commits.
type durability int

const (
	// modeDefault writes nothing about durability: PostgreSQL's defaults
	// (every commit flushed) and its connection limit.
	modeDefault durability = iota
	// modeEphemeral turns fsync, synchronous_commit and full_page_writes
	// off: fast, and a crash may lose or corrupt data.
	modeEphemeral
	// modeDurable writes them on, as a deployment keeps them, with the
	// connection limit of modeEphemeral so that the same loads run on both.
	modeDurable
)

// durabilitySettings are the settings modeDurable turns on and
// modeEphemeral off.
var durabilitySettings = []string{"fsync", "synchronous_commit", "full_page_writes"}

// cluster is one PostgreSQL cluster kept in dir.
type cluster struct {
	dir    string // absolute
	data   string // dir/data
	bin    string // directory of initdb, pg_ctl, postgres
	owner  *osUser
	stderr io.Writer
}

func newCluster(dir string, stderr io.Writer) (*cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve -dir %q: %w", dir, err)
	}
	c := &cluster{dir: abs, data: filepath.Join(abs, dataSubdir), stderr: stderr}
	// A cluster must be started by the major version that created it.
	version, _ := os.ReadFile(filepath.Join(c.data, "PG_VERSION"))
	if c.bin, err = findBinDir(strings.TrimSpace(string(version))); err != nil {
		return nil, err
	}
	if c.owner, err = serverUser(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cluster) initialized() bool {
	_, err := os.Stat(filepath.Join(c.data, "PG_VERSION"))
	return err == nil
}

func urlFor(port int) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, database)
}

// start makes sure the cluster exists and runs, and returns its URL.
func (c *cluster) start(port int, mode durability) (string, error) {
	if err := c.prepareDir(); err != nil {
		return "", err
	}
	unlock, err := c.lock()
	if err != nil {
		return "", err
	}
	defer unlock()

	if !c.initialized() {
		if err := c.initdb(mode == modeEphemeral); err != nil {
			return "", err
		}
	}

	running, runningPort, err := c.status()
	if err != nil {
		return "", err
	}
	if running {
		return c.reuse(runningPort, port, mode)
	}
	return c.startOn(port, mode)
}

// reuse returns the URL of the cluster already running on runningPort,
// when it is what the start asked for (port, 0 for any, and mode).
func (c *cluster) reuse(runningPort, port int, mode durability) (string, error) {
	if port != 0 && port != runningPort {
		return "", fmt.Errorf("the cluster in %s is already running on port %d, not %d: stop it first (pgcluster stop -dir %s) or ask for port %d",
			c.dir, runningPort, port, c.dir, runningPort)
	}
	if err := c.ensureDatabase(runningPort); err != nil {
		return "", err
	}
	if mode == modeDurable {
		// Its settings were written by the start that started it.
		for _, name := range durabilitySettings {
			value, err := c.psql(runningPort, "postgres", "SHOW "+name)
			if err != nil {
				return "", err
			}
			if value != "on" {
				return "", fmt.Errorf("the cluster in %s is already running with %s = %s, not durable: stop it first (pgcluster stop -dir %s) and start it with -durable",
					c.dir, name, value, c.dir)
			}
		}
	}
	_ = c.writeFile(filepath.Join(c.dir, portFile), []byte(strconv.Itoa(runningPort)+"\n"), 0o644)
	return urlFor(runningPort), nil
}

// startOn starts the stopped cluster on port (0: the remembered or a free
// one) and returns its URL.
func (c *cluster) startOn(port int, mode durability) (string, error) {
	chosen, auto, err := c.choosePort(port)
	if err != nil {
		return "", err
	}
	// A port picked as free can be taken by someone else before the server
	// binds it; pick again a few times rather than fail.
	for attempt := 1; ; attempt++ {
		err = c.startServer(chosen, mode)
		if err == nil {
			break
		}
		if !auto || attempt == 3 || portFree(chosen) {
			return "", err
		}
		if chosen, err = freePort(); err != nil {
			return "", err
		}
	}
	if err := c.ensureDatabase(chosen); err != nil {
		return "", err
	}
	return urlFor(chosen), nil
}

// stop stops the cluster if it runs.
func (c *cluster) stop() error {
	if !c.initialized() {
		fmt.Fprintf(c.stderr, "pgcluster: no cluster in %s, nothing to stop\n", c.dir)
		return nil
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	running, _, err := c.status()
	if err != nil {
		return err
	}
	if !running {
		fmt.Fprintf(c.stderr, "pgcluster: the cluster in %s is not running\n", c.dir)
		return nil
	}
	if out, err := c.server("pg_ctl", "stop", "-D", c.data, "-m", "fast", "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("stop the cluster in %s: %v%s", c.dir, err, indent(out))
	}
	fmt.Fprintf(c.stderr, "pgcluster: stopped the cluster in %s\n", c.dir)
	return nil
}

// url returns the URL of the running cluster.
func (c *cluster) url() (string, error) {
	if !c.initialized() {
		return "", fmt.Errorf("no cluster in %s: create and start one with pgcluster start -dir %s", c.dir, c.dir)
	}
	running, port, err := c.status()
	if err != nil {
		return "", err
	}
	if !running {
		return "", fmt.Errorf("the cluster in %s is not running: start it with pgcluster start -dir %s", c.dir, c.dir)
	}
	return urlFor(port), nil
}

// prepareDir creates dir and, when the server runs as another user, hands dir
// to that user after checking that it can reach it at all.
func (c *cluster) prepareDir() error {
	// Directories created above dir stay enterable by others: the server's
	// user must pass through them.
	parent := filepath.Dir(c.dir)
	_, statErr := os.Stat(parent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// Whatever the umask: a parent made here must let postgres through.
		if err := os.Chmod(parent, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", parent, err)
		}
	}
	if err := checkParent(c.dir); err != nil {
		return err
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", c.dir, err)
	}
	if c.owner == nil {
		return nil
	}
	if err := os.Chown(c.dir, c.owner.uid, c.owner.gid); err != nil {
		return fmt.Errorf("hand %s to the %s user: %w", c.dir, c.owner.name, err)
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", c.dir, err)
	}
	return c.owner.checkReach(c.dir)
}

// lock serialises pgcluster runs on the same directory (two `make run` at once).
func (c *cluster) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", c.dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", c.dir, err)
	}
	return func() { f.Close() }, nil
}

func (c *cluster) initdb(ephemeral bool) error {
	if entries, err := os.ReadDir(c.data); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION): remove it or choose another -dir", c.data)
	}
	args := []string{"-D", c.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	if out, err := c.server("initdb", args...); err != nil {
		return fmt.Errorf("initdb in %s: %v%s", c.data, err, indent(out))
	}
	// Only the loopback address and the socket inside dir are open, and both
	// are trusted: the cluster is for this machine's developer and tests.
	hba := "# Written by cmd/pgcluster: no passwords, loopback and the private socket directory only.\n" +
		"local all all trust\n" +
		"host  all all 127.0.0.1/32 trust\n"
	if err := c.writeFile(filepath.Join(c.data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("extend postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings of cmd/pgcluster (port, addresses, durability), rewritten at each start.\ninclude_if_exists = '%s'\n", confFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extend postgresql.conf: %w", err)
	}
	return nil
}

// status tells whether the server runs and, if so, on which port.
func (c *cluster) status() (running bool, port int, err error) {
	out, err := c.server("pg_ctl", "status", "-D", c.data)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 3: // not running
		return false, 0, nil
	default:
		return false, 0, fmt.Errorf("ask pg_ctl whether the cluster in %s runs: %v%s", c.dir, err, indent(out))
	}
	// postmaster.pid: pid, data directory, start time, port, socket directory, ...
	pid, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		return false, 0, fmt.Errorf("read the port of the running cluster: %w", err)
	}
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 4 {
		return false, 0, fmt.Errorf("read the port of the running cluster: %s/postmaster.pid is too short", c.data)
	}
	if port, err = strconv.Atoi(strings.TrimSpace(lines[3])); err != nil {
		return false, 0, fmt.Errorf("read the port of the running cluster: %s/postmaster.pid: %w", c.data, err)
	}
	return true, port, nil
}

// choosePort returns the port to start on and whether it was picked here
// rather than asked for.
func (c *cluster) choosePort(asked int) (port int, auto bool, err error) {
	if asked != 0 {
		if !portFree(asked) {
			return 0, false, fmt.Errorf("port %d on 127.0.0.1 is already taken by another program: choose another -port, or -port 0 for any free one", asked)
		}
		return asked, false, nil
	}
	if b, err := os.ReadFile(filepath.Join(c.dir, portFile)); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p <= 65535 {
			if portFree(p) {
				return p, false, nil
			}
			fmt.Fprintf(c.stderr, "pgcluster: port %d, used last time, is taken; picking another\n", p)
		}
	}
	p, err := freePort()
	return p, true, err
}

func (c *cluster) startServer(port int, mode durability) error {
	var conf strings.Builder
	conf.WriteString("# Written by cmd/pgcluster at every start: edits here are lost.\n")
	conf.WriteString("listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&conf, "port = %d\n", port)
	// The socket path must fit in sun_path (108 bytes); clients here use TCP,
	// so a cluster in a deep directory simply goes without a socket.
	if len(c.dir)+len("/.s.PGSQL.65535.lock") < 100 {
		fmt.Fprintf(&conf, "unix_socket_directories = '%s'\n", strings.ReplaceAll(c.dir, "'", "''"))
		conf.WriteString("unix_socket_permissions = 0700\n")
	} else {
		conf.WriteString("unix_socket_directories = ''\n")
	}
	switch mode {
	case modeEphemeral:
		conf.WriteString("# -ephemeral: a crash may lose or corrupt data; the cluster is thrown away after the run.\n")
		for _, name := range durabilitySettings {
			fmt.Fprintf(&conf, "%s = off\n", name)
		}
	case modeDurable:
		conf.WriteString("# -durable: every commit reaches the disk before it is acknowledged, as in a deployment.\n")
		for _, name := range durabilitySettings {
			fmt.Fprintf(&conf, "%s = on\n", name)
		}
	}
	if mode != modeDefault {
		// Parallel test packages, and benchmarks, each open pools to their
		// own databases.
		conf.WriteString("max_connections = 300\n")
	}
	if err := c.writeFile(filepath.Join(c.data, confFile), []byte(conf.String()), 0o600); err != nil {
		return err
	}
	if err := c.writeFile(filepath.Join(c.dir, portFile), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return err
	}
	log := filepath.Join(c.dir, logFile)
	out, err := c.server("pg_ctl", "start", "-D", c.data, "-l", log, "-w", "-t", "120", "-s")
	if err != nil {
		return fmt.Errorf("start PostgreSQL in %s on 127.0.0.1:%d: %v%s\nlast lines of %s:%s",
			c.dir, port, err, indent(out), log, indent(tail(log, 15)))
	}
	return nil
}

// ensureDatabase creates the database of the URL unless it exists.
func (c *cluster) ensureDatabase(port int) error {
	exists := func() (bool, error) {
		out, err := c.psql(port, "postgres", fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", database))
		return out == "1", err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}
	if _, err := c.psql(port, "postgres", "CREATE DATABASE "+database); err != nil {
		// Another start may have created it in the meantime.
		if ok, _ := exists(); ok {
			return nil
		}
		return err
	}
	return nil
}

// psql runs one SQL statement in db on the cluster listening on port and
// returns its output, unaligned and without headers.
func (c *cluster) psql(port int, db, sql string) (string, error) {
	psql := filepath.Join(c.bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		if psql, err = exec.LookPath("psql"); err != nil {
			return "", fmt.Errorf("psql, needed to create the database %s and read settings, is neither in %s nor on PATH", database, c.bin)
		}
	}
	cmd := exec.Command(psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-d", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10", port, db),
		"-c", sql)
	cmd.Env = cleanEnv()
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql %q: %v%s", sql, err, indent(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// server runs one of the server binaries, as the server's user, and returns
// its combined output.
func (c *cluster) server(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.owner != nil {
		cmd = exec.Command(c.owner.runuser, append([]string{"-u", c.owner.name, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Env = cleanEnv()
	// The server's user may not be allowed into the caller's working directory.
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

// writeFile writes a file that the server's user owns.
func (c *cluster) writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if c.owner != nil {
		if err := os.Chown(path, c.owner.uid, c.owner.gid); err != nil {
			return fmt.Errorf("hand %s to the %s user: %w", path, c.owner.name, err)
		}
	}
	return nil
}

// cleanEnv is the environment without PG* variables, which would otherwise
// steer initdb, pg_ctl and psql (PGDATA, PGPORT, PGHOST, PGDATABASE, ...).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_MESSAGES=C")
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file, or a note why it cannot.
func tail(path string, n int) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return []byte(err.Error())
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}

// indent formats command output to follow an error message.
func indent(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return ""
	}
	return "\n    " + strings.ReplaceAll(s, "\n", "\n    ")
}
