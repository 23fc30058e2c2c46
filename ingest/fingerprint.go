package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
)

// Fingerprint identifies a clip list: a hex SHA-256 over the label names in id order and, in
// clip id order, every clip's id, label name and split and every rejected row's id. Two lists
// with the same clips, labels and splits have the same fingerprint whatever the order of their
// rows or the folder their media is in; any added, removed or relabelled clip, a changed split
// or a changed label list gives another. Extract keeps it in index.json and refuses to resume a
// folder with a list whose fingerprint differs.
func (ds *Dataset) Fingerprint() string {
	type entry struct{ id, label, split string }
	entries := make([]entry, 0, len(ds.Clips)+len(ds.Rejected))
	for _, c := range ds.Clips {
		label := "\x00" // a label id without a name: cannot collide with a real name's bytes below
		if c.Label >= 0 && c.Label < len(ds.Labels) {
			label = ds.Labels[c.Label]
		}
		entries = append(entries, entry{c.ID, label, c.Split})
	}
	for _, r := range ds.Rejected {
		entries = append(entries, entry{id: r.ClipID, label: "\x00rejected"})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].id < entries[j].id })
	h := sha256.New()
	writeField(h, "avbalance clip list v1")
	binary.Write(h, binary.LittleEndian, uint64(len(ds.Labels)))
	for _, l := range ds.Labels {
		writeField(h, l)
	}
	binary.Write(h, binary.LittleEndian, uint64(len(entries)))
	for _, e := range entries {
		writeField(h, e.id)
		writeField(h, e.label)
		writeField(h, e.split)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes s length-prefixed, so that no two sequences of fields hash alike.
func writeField(h hash.Hash, s string) {
	binary.Write(h, binary.LittleEndian, uint64(len(s)))
	h.Write([]byte(s))
}
