package leaf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
)

func TestObjectsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	got, err := loadObjects(dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v, %d objects; want an empty set", err, len(got))
	}
	set := map[cid.Cid]struct{}{testCID(t, "a"): {}, testCID(t, "b"): {}}
	if err := saveObjects(dir, set); err != nil {
		t.Fatal(err)
	}
	got, err = loadObjects(dir)
	if err != nil || len(got) != 2 {
		t.Fatalf("after save: %v, %d objects; want 2", err, len(got))
	}
	for c := range set {
		if _, ok := got[c]; !ok {
			t.Fatalf("%s lost", c)
		}
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d files, want only %s", len(entries), objectsFile)
	}
	// No data dir: in memory only.
	if err := saveObjects("", set); err != nil {
		t.Fatal(err)
	}
	if got, err := loadObjects(""); err != nil || len(got) != 0 {
		t.Fatalf("no data dir: %v %d", err, len(got))
	}
}

func TestObjectsRefusesBadFiles(t *testing.T) {
	for name, body := range map[string]string{
		"corrupt":         "{not json",
		"unknown version": `{"version": 2, "cids": []}`,
		"bad CID":         `{"version": 1, "cids": ["not-a-cid"]}`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, objectsFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadObjects(dir); err == nil || !strings.Contains(err.Error(), objectsFile) {
			t.Errorf("%s: err %v, want an error naming %s", name, err, objectsFile)
		}
	}
	if err := saveObjects(filepath.Join(t.TempDir(), "missing"), map[cid.Cid]struct{}{testCID(t, "a"): {}}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("saving into a missing dir: %v, want ErrNotExist", err)
	}
}
