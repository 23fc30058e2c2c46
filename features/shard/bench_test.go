package shard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Default-preset-sized rows: 128×300 float32 log-mel and 3 RGB frames of 224×224.
var (
	benchAudioShape = []int{128, 300}
	benchFrameShape = []int{3, 224, 224, 3}
)

const benchShardRows = 256

// BenchmarkWrite measures appending default-sized rows to shards of 256 rows, including the
// per-shard Commit (footer, fsync, rename, directory fsync). Reports rows/s and MB/s of row data.
func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(1, 2)), "b", 8, benchAudioShape, benchFrameShape)
	rowBytes := int64(4*len(rows[0].Audio) + len(rows[0].Frames))
	b.SetBytes(rowBytes)
	b.ReportAllocs()
	b.ResetTimer()
	var w *Writer
	shard := 0
	commit := func() {
		if _, err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(filepath.Join(dir, ShardName(shard)))
		b.StartTimer()
		w, shard = nil, shard+1
	}
	for i := 0; i < b.N; i++ {
		if w == nil {
			var err error
			if w, err = NewWriter(dir, ShardName(shard), benchAudioShape, benchFrameShape); err != nil {
				b.Fatal(err)
			}
		}
		r := rows[i%len(rows)]
		r.ClipID = fmt.Sprint(i)
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
		if w.Rows() == benchShardRows {
			commit()
		}
	}
	if w != nil {
		commit()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadMmap measures Open (mmap + validation) of a 256-row default-sized shard and reading
// every audio and frame byte once by copying it into a training batch buffer, as a loader does.
// The file is in the page cache after the first iteration.
func BenchmarkReadMmap(b *testing.B) {
	dir := b.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(3, 4)), "r", 8, benchAudioShape, benchFrameShape)
	w, err := NewWriter(dir, "r.arrow", benchAudioShape, benchFrameShape)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < benchShardRows; i++ {
		r := rows[i%len(rows)]
		r.ClipID = fmt.Sprint(i)
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "r.arrow")
	rowBytes := 4*len(rows[0].Audio) + len(rows[0].Frames)
	b.SetBytes(int64(benchShardRows * rowBytes))
	audio := make([]float32, DefaultBatchRows*len(rows[0].Audio))
	frames := make([]byte, DefaultBatchRows*len(rows[0].Frames))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for k := 0; k < r.NumBatches(); k++ {
			bt := r.Batch(k)
			copy(audio, bt.Audio)
			copy(frames, bt.Frames)
			n += bt.Rows
		}
		r.Close()
		if n != benchShardRows {
			b.Fatalf("read %d rows", n)
		}
	}
}
