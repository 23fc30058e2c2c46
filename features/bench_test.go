package features

import (
	"math"
	"testing"

	"github.com/avbalance/avbalance/internal/testmedia"
)

// benchSignal is a deterministic test clip: a chirp plus a tone, seconds long at rate Hz.
func benchSignal(rate int, seconds float64) []float32 {
	n := int(seconds * float64(rate))
	x := make([]float32, n)
	for i := range x {
		t := float64(i) / float64(rate)
		x[i] = float32(0.5*math.Sin(2*math.Pi*(100*t+150*t*t)) + 0.2*math.Sin(2*math.Pi*440*t))
	}
	return x
}

// BenchmarkLogMel10s is torchaudio's MelSpectrogram(n_fft=400, hop_length=160, n_mels=128)
// + log on 10 s at 16 kHz (1001 frames), the number bench_torchaudio.py measures for torch.
func BenchmarkLogMel10s(b *testing.B) {
	p, _ := Lookup("default")
	p = p.WithSeconds(10)
	e := NewExtractor(p)
	x := benchSignal(16000, 10)
	b.ReportAllocs()
	c0 := int64(testmedia.CPUTime())
	for b.Loop() {
		if _, err := e.Audio(x, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(int64(testmedia.CPUTime())-c0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkPresets runs each preset on a typical clip: 2.5 s (a CREMA-D utterance) at 16 or
// 22.05 kHz for the CREMA-D and default presets, 10 s for the VGGSound and AST ones.
func BenchmarkPresets(b *testing.B) {
	for _, name := range PresetNames() {
		p, _ := Lookup(name)
		seconds := 2.5
		if name == "ogmge-vggsound" || name == "fbank128" {
			seconds = 10
		}
		x := benchSignal(p.SampleRate, seconds)
		b.Run(name, func(b *testing.B) {
			e := NewExtractor(p)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Audio(x, 7); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
