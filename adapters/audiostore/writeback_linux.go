//go:build linux

package audiostore

import "syscall"

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the dirty
// pages of the range back, without waiting for them.
const syncFileRangeWrite = 0x2

// startWriteback asks the kernel to start writing bytes [off, off+n) of w to
// disk now, and does not wait: the disk writes the start of a recording
// while the rest is still being copied and hashed, and the fsync at the end
// finds little left to write. A writer that is no file, and any error, are
// ignored: it is a hint, the fsync still makes the file durable.
func startWriteback(w any, off, n int64) {
	sc, ok := w.(syscall.Conn)
	if !ok || n <= 0 {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite) })
}
