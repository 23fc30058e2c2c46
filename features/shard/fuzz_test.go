package shard

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen mutates a small valid shard: opening it must return an error or a Reader whose every
// row can be read, never panic. Crashers found by `go test -fuzz=FuzzOpen` are kept in
// testdata/fuzz/FuzzOpen and replayed by `go test`.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(21, 22)), "f", 3, []int{2, 3}, []int{1, 2, 2, 3})
	w, err := NewWriter(dir, "f.arrow", []int{2, 3}, []int{1, 2, 2, 3}, WithBatchRows(2))
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "f.arrow"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[len(good)/2:])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newReader(data, nil)
		if err != nil {
			return
		}
		defer r.Close()
		var sum float32
		var bsum int
		for i := 0; i < r.NumRows(); i++ {
			row := r.Row(i)
			for _, v := range row.Audio {
				sum += v
			}
			for _, v := range row.Frames {
				bsum += int(v)
			}
			_ = len(row.ClipID) + len(row.Split) + len(row.Source)
		}
		for b := 0; b < r.NumBatches(); b++ {
			bt := r.Batch(b)
			if len(bt.Labels) != bt.Rows || len(bt.DurationS) != bt.Rows {
				t.Fatalf("batch %d: %d labels, %d durations for %d rows", b, len(bt.Labels), len(bt.DurationS), bt.Rows)
			}
		}
		_ = r.ClipIDs()
		_ = r.Labels()
		_, _ = sum, bsum
	})
}
