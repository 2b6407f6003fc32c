package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// osUser is the account the server binaries run as when pgcluster runs as
// root: PostgreSQL refuses to run as root.
type osUser struct {
	name     string
	uid, gid int
	gids     map[int]bool // primary and supplementary groups
	runuser  string
}

// serverUser returns nil when the binaries can run as the caller.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	const name = "postgres"
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, but PostgreSQL refuses to run as root and there is no %q user to run it as: "+
			"create one (installing the postgresql package does) or run pgcluster as an ordinary user (%v)", name, err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, errors.New("running as root needs runuser (package util-linux) to run PostgreSQL as the postgres user")
	}
	o := &osUser{name: name, runuser: runuser, gids: map[int]bool{}}
	if o.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	if o.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	o.gids[o.gid] = true
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil {
				o.gids[g] = true
			}
		}
	}
	return o, nil
}

// checkReach makes sure the user can enter and write dir. When it cannot, the
// culprit is nearly always a directory above dir that others may not enter,
// such as a 0700 home directory; the error names it.
func (o *osUser) checkReach(dir string) error {
	cmd := exec.Command(o.runuser, "-u", o.name, "--", "test", "-x", dir, "-a", "-w", dir)
	cmd.Dir = "/"
	if cmd.Run() == nil {
		return nil
	}
	var ancestors []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		ancestors = append([]string{d}, ancestors...)
		if d == filepath.Dir(d) {
			break
		}
	}
	for _, d := range ancestors {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || o.canEnter(st) {
			continue
		}
		return fmt.Errorf("the %s user, which runs PostgreSQL because PostgreSQL refuses to run as root, cannot enter %s "+
			"(mode %04o, owner %s, group %s), so it cannot reach the cluster in %s. "+
			"Put the cluster under a directory it can enter (for example under /tmp or /var/tmp), "+
			"or let others through with: chmod o+x %s",
			o.name, d, fi.Mode().Perm(), userName(st.Uid), groupName(st.Gid), dir, d)
	}
	return fmt.Errorf("the %s user, which runs PostgreSQL because PostgreSQL refuses to run as root, cannot write to %s "+
		"although it owns it and may enter every directory above it: check ACLs and mount options (read-only, nosuid)", o.name, dir)
}

func (o *osUser) canEnter(st *syscall.Stat_t) bool {
	mode := st.Mode & 0o777
	switch {
	case int(st.Uid) == o.uid:
		return mode&0o100 != 0
	case o.gids[int(st.Gid)]:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
