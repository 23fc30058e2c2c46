package audio

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// wavBytes builds a minimal RIFF/WAVE file: a fmt chunk (format tag, channels, rate, bits) and
// a data chunk holding data.
func wavBytes(format, ch, rate, bits int, data []byte) []byte {
	le := binary.LittleEndian
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, uint16(format))
	b = le.AppendUint16(b, uint16(ch))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*ch*bits/8))
	b = le.AppendUint16(b, uint16(ch*bits/8))
	b = le.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// FuzzWAV feeds arbitrary bytes to the WAV reader (the go-audio/wav path of Decode): it must
// return samples in [-1,1] or an error, never panic, and never blow up memory on absurd
// header fields. Crashers found by `go test -fuzz=FuzzWAV ./audio` are kept in
// testdata/fuzz/FuzzWAV and replayed by `go test`.
func FuzzWAV(f *testing.F) {
	for _, name := range []string{"tone_s24_stereo.wav", "tone_f32_stereo.wav"} {
		if b, err := os.ReadFile(filepath.Join(media, name)); err == nil {
			f.Add(b)
		}
	}
	pcm := make([]byte, 64)
	for i := range pcm {
		pcm[i] = byte(i * 37)
	}
	f.Add(wavBytes(wavPCM, 1, 16000, 16, pcm))
	f.Add(wavBytes(wavPCM, 2, 8000, 8, pcm))
	f.Add(wavBytes(wavFloat, 1, 22050, 32, pcm))
	f.Add(wavBytes(wavFloat, 2, 96000, 64, pcm))
	f.Add(wavBytes(wavPCM, 6, 48000, 24, pcm[:36]))
	f.Add(wavBytes(wavPCM, 1, 1, 16, pcm))            // absurdly low rate
	f.Add(wavBytes(wavPCM, 65535, 44100, 32, pcm))    // absurd channel count
	f.Add(wavBytes(wavExtensible, 2, 44100, 16, pcm)) // extensible without the extension
	f.Add(wavBytes(wavPCM, 1, 16000, 16, nil))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVE"))

	d := NewDecoder(16000)
	f.Cleanup(d.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		d.rs.outRate = d.Rate
		d.rs.ch = 0
		d.out = d.out[:0]
		err := d.decodeWAVData("fuzz.wav", data)
		if err != nil {
			if !errors.Is(err, errNotPCM) && err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// Output is bounded by the input: at most one output second per 1000 input samples
		// (the lowest sample rate accepted), whatever the header claims.
		if limit := (len(data)/1000 + 1) * (d.Rate + 64); len(d.out) > limit {
			t.Fatalf("%d input bytes gave %d samples", len(data), len(d.out))
		}
	})
}

// TestWAVHugeChunkHeader is the regression test for what FuzzWAV found: a chunk header
// claiming gigabytes made go-audio/wav allocate them (an 80-byte file cost 4 GB and hung the
// fuzzer). Such files must be refused or handed to FFmpeg without a large allocation.
func TestWAVHugeChunkHeader(t *testing.T) {
	d := NewDecoder(16000)
	defer d.Close()
	for _, id := range []string{"LIST", "smpl", "fmt ", "junk"} {
		b := []byte("RIFF\x00\x00\x00\x00WAVE")
		b = append(b, id...)
		b = binary.LittleEndian.AppendUint32(b, 0x7FFFFFF0)
		b = append(b, make([]byte, 64)...)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		err := d.decodeWAVData("huge.wav", b)
		runtime.ReadMemStats(&m1)
		if err == nil {
			t.Errorf("%s: no error for an 84-byte file claiming a 2 GB chunk", id)
		}
		if mb := (m1.TotalAlloc - m0.TotalAlloc) >> 20; mb > 16 {
			t.Errorf("%s: %d MB allocated for an 84-byte file", id, mb)
		}
	}
}
