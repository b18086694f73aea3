package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrInUse marks a daemon that cannot start because another process holds
// what it needs: its data dir or its listen address (exit status 5).
var ErrInUse = errors.New("in use")

// LockFile is the lock's name in a data dir.
const LockFile = "lock"

// lockDataDir takes an exclusive lock on DIR/lock for as long as the process
// runs (or until release): one process, so one identity, per data dir. The
// kernel drops the lock when the process dies, however it dies; the file
// holds the owner's PID for the message a second process prints.
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			owner := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
					owner = fmt.Sprintf("process %d", pid)
				}
			}
			return nil, fmt.Errorf("%w: --data %s is used by %s (it holds the lock %s); one process per data dir, since the data dir is the node's identity",
				ErrInUse, dir, owner, path)
		}
		return nil, fmt.Errorf("data dir lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
