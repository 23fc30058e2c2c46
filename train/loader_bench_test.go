package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/avbalance/avbalance/features/shard"
)

// loaderBenchRows is the size of the shard folder the loader benchmarks read: 2 shards of 128 rows
// (at CREMA-D shapes ~88 MB, in the page cache after the first pass, as in a multi-epoch run).
const loaderBenchRows, loaderBenchShardRows = 256, 128

// writeBenchShards writes an extraction folder (shards + index.json) of random rows with the
// benchmark shapes (benchShapes: tiny, or CREMA-D's with AVB_BENCH_SHAPE=cremad).
func writeBenchShards(b *testing.B) string {
	b.Helper()
	as, fs := benchShapes()
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	audio := make([]float32, prod(as))
	frames := make([]byte, prod(fs))
	ix := &shard.Index{Tool: "bench", Dataset: "bench", Labels: []string{"a", "b", "c", "d", "e", "f"}}
	if err := ix.SetPreset(map[string]any{"name": "bench"}); err != nil {
		b.Fatal(err)
	}
	for s := 0; s < loaderBenchRows/loaderBenchShardRows; s++ {
		w, err := shard.NewWriter(dir, shard.ShardName(s), as, fs)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < loaderBenchShardRows; i++ {
			for j := range audio {
				audio[j] = float32(r.NormFloat64())
			}
			for j := range frames {
				frames[j] = byte(r.UintN(256))
			}
			id := fmt.Sprintf("c%05d", s*loaderBenchShardRows+i)
			if err := w.Append(shard.Row{ClipID: id, Label: int32(r.IntN(6)), Split: "train",
				Audio: audio, Frames: frames, DurationS: 2, Source: id}); err != nil {
				b.Fatal(err)
			}
		}
		info, err := w.Commit()
		if err != nil {
			b.Fatal(err)
		}
		ix.Shards = append(ix.Shards, info)
	}
	ix.ClipsTotal, ix.ClipsOK = loaderBenchRows, loaderBenchRows
	if err := shard.WriteIndex(dir, ix); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchLoader measures the training loader turning a memory-mapped shard folder into batches of
// 32 (shuffled rows, audio copied, frames converted to ImageNet-normalised float32 NCHW) with the
// trainer's default 2 loader workers. One op is one batch; MB/s counts the float32 batch tensors
// assembled, in-GB/s the shard bytes read. Compare ns/op with BenchmarkStepConcat's (same
// AVB_BENCH_SHAPE): training is input-bound only if a batch takes longer to load than to train on.
func benchLoader(b *testing.B, workers int) {
	dir := writeBenchShards(b)
	src, err := OpenShards(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	const batchSize = 32
	l := newLoader(src, batchSize, workers, true, true)
	inBytes := int64(batchSize * (4*prod(src.AudioShape()) + prod(src.FrameShape())))
	outBytes := int64(batchSize * 4 * (prod(src.AudioShape()) + prod(src.FrameShape())))
	b.SetBytes(outBytes)
	all := make([]int, src.Len())
	for i := range all {
		all[i] = i
	}
	rows := make([]int, 0, b.N*batchSize)
	for epoch := 0; len(rows) < b.N*batchSize; epoch++ {
		rows = append(rows, shuffled(all, 1, epoch)...)
	}
	rows = rows[:b.N*batchSize]
	b.ResetTimer()
	n := 0
	for bt := range l.stream(context.Background(), rows) {
		if bt.err != nil {
			b.Fatal(bt.err)
		}
		n += bt.n
		l.release(bt)
	}
	b.StopTimer()
	if n != len(rows) {
		b.Fatalf("loaded %d rows, want %d", n, len(rows))
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(inBytes)*float64(b.N)/sec/1e9, "in-GB/s")
	b.ReportMetric(float64(outBytes)*float64(b.N)/sec/1e9, "out-GB/s")
}

func BenchmarkLoaderBatches(b *testing.B)  { benchLoader(b, 2) }
func BenchmarkLoaderBatches1(b *testing.B) { benchLoader(b, 1) }
