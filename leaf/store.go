package leaf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ipfs/go-cid"
)

// objectsFile holds the announced set in the data dir.
const objectsFile = "objects.json"

type objectsDoc struct {
	Version int      `json:"version"`
	CIDs    []string `json:"cids"`
}

// loadObjects reads the announced set; a missing file is an empty set.
func loadObjects(dir string) (map[cid.Cid]struct{}, error) {
	set := make(map[cid.Cid]struct{})
	if dir == "" {
		return set, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, objectsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leaf: reading objects: %w", err)
	}
	var doc objectsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("leaf: %s is corrupt: %w", objectsFile, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("leaf: %s has unknown version %d", objectsFile, doc.Version)
	}
	for _, s := range doc.CIDs {
		c, err := cid.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("leaf: %s: bad CID %q: %w", objectsFile, s, err)
		}
		set[c] = struct{}{}
	}
	return set, nil
}

// saveObjects writes the set atomically (temp file, fsync, rename).
func saveObjects(dir string, set map[cid.Cid]struct{}) error {
	if dir == "" {
		return nil
	}
	doc := objectsDoc{Version: 1, CIDs: make([]string, 0, len(set))}
	for c := range set {
		doc.CIDs = append(doc.CIDs, c.String())
	}
	slices.Sort(doc.CIDs)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, objectsFile+".tmp*")
	if err != nil {
		return fmt.Errorf("leaf: saving objects: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("leaf: saving objects: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("leaf: saving objects: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("leaf: saving objects: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, objectsFile)); err != nil {
		return fmt.Errorf("leaf: saving objects: %w", err)
	}
	return nil
}
