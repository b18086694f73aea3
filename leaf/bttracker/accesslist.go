package bttracker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxAccessListEntries bounds the infohashes one list file may hold.
const MaxAccessListEntries = 1 << 20

// ErrAccessList is wrapped by every error reading an access list.
var ErrAccessList = errors.New("bttracker: access list")

// AccessList decides which torrents the tracker serves: with an allow
// list only those listed, never those on the deny list. A nil *AccessList
// allows everything. It is immutable; replace it to change it
// (Frontend.SetAccessList).
type AccessList struct {
	allow map[InfoHash]struct{} // nil: every infohash not denied
	deny  map[InfoHash]struct{}
}

// Allowed reports whether the tracker serves ih.
func (l *AccessList) Allowed(ih InfoHash) bool {
	if l == nil {
		return true
	}
	if _, denied := l.deny[ih]; denied {
		return false
	}
	if l.allow == nil {
		return true
	}
	_, ok := l.allow[ih]
	return ok
}

// Len returns the sizes of the allow list (-1 when there is none: every
// torrent is allowed) and of the deny list.
func (l *AccessList) Len() (allow, deny int) {
	if l == nil {
		return -1, 0
	}
	allow = -1
	if l.allow != nil {
		allow = len(l.allow)
	}
	return allow, len(l.deny)
}

// LoadAccessList reads an allow list and a deny list file; an empty path
// means no such list. Both files hold one infohash per line (40 hex
// digits, either case); blank lines and text after '#' are ignored.
func LoadAccessList(allowPath, denyPath string) (*AccessList, error) {
	l := &AccessList{}
	var err error
	if allowPath != "" {
		if l.allow, err = readInfoHashFile(allowPath); err != nil {
			return nil, err
		}
	}
	if denyPath != "" {
		if l.deny, err = readInfoHashFile(denyPath); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func readInfoHashFile(path string) (map[InfoHash]struct{}, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessList, err)
	}
	defer f.Close()
	m, err := ParseInfoHashList(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrAccessList, path, err)
	}
	return m, nil
}

// ParseInfoHashList parses the list format of LoadAccessList.
func ParseInfoHashList(r io.Reader) (map[InfoHash]struct{}, error) {
	m := map[InfoHash]struct{}{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		ih, err := ParseInfoHash(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(m) >= MaxAccessListEntries {
			return nil, fmt.Errorf("line %d: more than %d infohashes", n, MaxAccessListEntries)
		}
		m[ih] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// SetAccessList replaces the access list (nil: allow every torrent). It
// applies to the requests that arrive from then on.
func (f *Frontend) SetAccessList(l *AccessList) { f.access.Store(l) }

// AccessList returns the access list in force (nil: every torrent).
func (f *Frontend) AccessList() *AccessList { return f.access.Load() }
