package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cpuMeter reads the CPU time used by this process and, when the database
// runs on this machine (a cluster on loopback, as in the benchmarks), by the
// PostgreSQL server: its postmaster, the children it has reaped, and the
// ones still running (the pool's backends among them). PostgreSQL's share
// is what a click costs the database, which the process's own CPU time
// leaves out.
type cpuMeter struct {
	postmaster int // 0 when the server's processes cannot be read
}

// newCPUMeter finds the postmaster of pool's server through one backend's
// parent process.
func newCPUMeter(b *testing.B, ctx context.Context, pool *pgxpool.Pool) *cpuMeter {
	b.Helper()
	var backend int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	st, err := readStat(backend)
	if err != nil {
		b.Logf("PostgreSQL's CPU time is not measured: %v", err)
		return &cpuMeter{}
	}
	return &cpuMeter{postmaster: st.ppid}
}

type cpuSample struct {
	self, pg time.Duration
	pgOK     bool
}

func (m *cpuMeter) sample() cpuSample {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := cpuSample{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	if m.postmaster == 0 {
		return s
	}
	pm, err := readStat(m.postmaster)
	if err != nil {
		return s
	}
	ticks := pm.utime + pm.stime + pm.cutime + pm.cstime
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != m.postmaster {
			continue
		}
		ticks += st.utime + st.stime
	}
	s.pg, s.pgOK = time.Duration(ticks)*time.Second/userHZ, true
	return s
}

// userHZ is the unit of /proc/<pid>/stat's times, 100 on every Linux.
const userHZ = 100

type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// readStat reads /proc/<pid>/stat (proc(5)).
func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(raw[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(field int) int64 { n, _ := strconv.ParseInt(string(f[field-3]), 10, 64); return n }
	return procStat{ppid: int(num(4)), utime: num(14), stime: num(15), cutime: num(16), cstime: num(17)}, nil
}
