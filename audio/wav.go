package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/asticode/go-astiav"
	"github.com/go-audio/wav"
)

// errNotPCM marks WAV files go-audio/wav cannot give us as plain PCM/float (compressed,
// 8-bit-unsigned oddities, malformed headers); they go to FFmpeg instead.
var errNotPCM = errors.New("not a PCM/float WAV")

// WAV format tags (fmt chunk, and first two bytes of the WAVE_FORMAT_EXTENSIBLE sub-format GUID).
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

// wavScratch holds the buffers reused across WAV files.
type wavScratch struct {
	file []byte    // whole file
	mono []float32 // down-mixed samples at the file's rate
}

// decodeWAV reads a PCM (8/16/24/32-bit) or float (32/64-bit) WAV file, down-mixes it to mono
// by averaging channels and resamples it into d.out.
func (d *Decoder) decodeWAV(ctx context.Context, path string) error {
	if err := d.wav.readFile(ctx, path); err != nil {
		return fmt.Errorf("audio: open %s: %w", path, err)
	}
	return d.decodeWAVData(path, d.wav.file)
}

// decodeWAVData decodes a whole WAV file held in file (path names it in errors) into d.out.
// Malformed input is an error (errNotPCM when FFmpeg should have a go), never a panic.
func (d *Decoder) decodeWAVData(path string, file []byte) error {
	if !wavChunksFit(file) {
		// go-audio/wav allocates whatever size a chunk header claims (found by FuzzWAV: an
		// 80-byte file asked for 4 GB); FFmpeg skips such chunks without allocating.
		return errNotPCM
	}
	r := bytes.NewReader(file)
	dec := wav.NewDecoder(r)
	if err := dec.FwdToPCM(); err != nil || dec.Err() != nil || dec.PCMChunk == nil {
		return errNotPCM
	}
	format := int(dec.WavAudioFormat)
	if format == wavExtensible {
		format = extensibleSubFormat(file)
	}
	ch, bits, rate := int(dec.NumChans), int(dec.BitDepth), int(dec.SampleRate)
	if ch < 1 || rate < 1 || !supportedWAV(format, bits) {
		return errNotPCM
	}
	if rate < MinInputRate || rate > MaxInputRate {
		return fmt.Errorf("audio: %s: WAV sample rate %d Hz is outside %d–%d Hz", path, rate, MinInputRate, MaxInputRate)
	}
	start := int(r.Size()) - r.Len()
	data := file[start:]
	if n := dec.PCMSize; n >= 0 && n < len(data) {
		data = data[:n] // a truncated file keeps what it has
	}
	frameBytes := ch * bits / 8
	frames := len(data) / frameBytes
	if frames == 0 {
		return fmt.Errorf("audio: %s: WAV data chunk holds no samples", path)
	}
	mono := d.wav.mono[:0]
	if cap(mono) < frames {
		mono = make([]float32, 0, frames)
	}
	mono = mono[:frames]
	downmix(mono, data[:frames*frameBytes], ch, bits, format == wavFloat)
	d.wav.mono = mono

	if rate == d.Rate {
		d.out = append(d.out, mono...)
		return nil
	}
	if err := d.rs.setup(int(astiav.SampleFormatFlt), rate, 1); err != nil {
		return fmt.Errorf("audio: %s: %w", path, err)
	}
	var err error
	if d.out, err = d.rs.mono(d.out, mono); err != nil {
		return fmt.Errorf("audio: %s: %w", path, err)
	}
	if d.out, err = d.rs.flush(d.out); err != nil {
		return fmt.Errorf("audio: %s: %w", path, err)
	}
	return nil
}

// wavChunksFit reports whether every chunk before the data chunk fits inside file. The data
// chunk itself may be cut short (a truncated file keeps the samples it has).
func wavChunksFit(file []byte) bool {
	if len(file) < 12 {
		return false
	}
	for p := 12; p+8 <= len(file); {
		id, size := string(file[p:p+4]), int64(binary.LittleEndian.Uint32(file[p+4:p+8]))
		if id == "data" {
			return true
		}
		if int64(p)+8+size > int64(len(file)) {
			return false
		}
		p += 8 + int(size) + int(size&1)
	}
	return true
}

// readFile reads path into the reused file buffer, in chunks so a deadline is noticed.
func (s *wavScratch) readFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := int(info.Size())
	if cap(s.file) < size {
		s.file = make([]byte, size)
	}
	s.file = s.file[:size]
	const chunk = 4 << 20
	n := 0
	for n < size {
		if ctx.Err() != nil {
			s.file = s.file[:n]
			return context.Cause(ctx)
		}
		m, err := io.ReadFull(f, s.file[n:min(size, n+chunk)])
		n += m
		if err != nil {
			s.file = s.file[:n]
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil // the file shrank: keep what is there
			}
			return err
		}
	}
	return nil
}

func supportedWAV(format, bits int) bool {
	switch format {
	case wavPCM:
		return bits == 8 || bits == 16 || bits == 24 || bits == 32
	case wavFloat:
		return bits == 32 || bits == 64
	}
	return false
}

// extensibleSubFormat returns the format tag inside a WAVE_FORMAT_EXTENSIBLE fmt chunk
// (go-audio/wav skips those bytes), or 0 when it cannot be found.
func extensibleSubFormat(file []byte) int {
	for p := 12; p+8 <= len(file); {
		id, size := string(file[p:p+4]), int(binary.LittleEndian.Uint32(file[p+4:p+8]))
		if id == "fmt " {
			if size >= 26 && p+8+26 <= len(file) {
				return int(binary.LittleEndian.Uint16(file[p+8+24:]))
			}
			return 0
		}
		if size < 0 {
			return 0
		}
		p += 8 + size + size&1
	}
	return 0
}

// downmix converts interleaved little-endian samples to float32 and averages the channels.
func downmix(dst []float32, data []byte, ch, bits int, float bool) {
	bps := bits / 8
	scale := 1 / float32(ch)
	for i := range dst {
		frame := data[i*ch*bps : (i+1)*ch*bps]
		var sum float32
		for c := 0; c < ch; c++ {
			sum += sample(frame[c*bps:], bits, float)
		}
		dst[i] = sum * scale
	}
}

// sample decodes one little-endian sample to float32 in [-1,1).
func sample(b []byte, bits int, float bool) float32 {
	switch {
	case float && bits == 32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case float:
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case bits == 8: // unsigned
		return (float32(b[0]) - 128) / 128
	case bits == 16:
		return float32(int16(binary.LittleEndian.Uint16(b))) / (1 << 15)
	case bits == 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float32(v) / (1 << 23)
	default:
		return float32(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}
