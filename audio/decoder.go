package audio

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/internal/demux"
)

// Decoder decodes the first audio stream of any FFmpeg-readable file, or a .wav file via
// go-audio/wav, to mono float32 in [-1,1] at Rate Hz. One per worker, reused across clips;
// not safe for concurrent use.
type Decoder struct {
	// Rate is the output sample rate in Hz.
	Rate int

	pkt *astiav.Packet
	frm *astiav.Frame
	rs  resampler
	out []float32 // resampled samples of the current clip (reused)
	wav wavScratch

	// the FFmpeg stream being decoded (between begin and freeStream)
	cc            *astiav.CodecContext
	codecID       astiav.CodecID
	durS          float64 // the stream's declared duration in seconds, 0 if none
	path          string
	lastDecodeErr error
}

// NewDecoder returns a Decoder that outputs mono samples at rate Hz.
func NewDecoder(rate int) *Decoder {
	return &Decoder{
		Rate: rate,
		pkt:  astiav.AllocPacket(),
		frm:  astiav.AllocFrame(),
		rs:   resampler{outRate: rate},
	}
}

// Close frees the Decoder's FFmpeg objects. The Decoder must not be used afterwards.
func (d *Decoder) Close() {
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.frm != nil {
		d.frm.Free()
		d.frm = nil
	}
	d.freeStream()
	d.rs.free()
}

// Decode returns the clip's audio as mono float32 samples in [-1,1] at d.Rate. The slice is
// freshly allocated and owned by the caller. Files ending in .wav with PCM or float data are
// read with go-audio/wav; everything else (and other WAV codecs) goes through FFmpeg.
func (d *Decoder) Decode(path string) ([]float32, error) {
	return d.DecodeContext(context.Background(), path)
}

// DecodeContext is Decode with a deadline: once ctx is done the packet loop stops, and a read
// blocked inside FFmpeg is aborted through the format context's interrupt callback. The error
// then wraps context.Cause(ctx) (so errors.Is(err, context.DeadlineExceeded) holds for a
// deadline) and names path.
func (d *Decoder) DecodeContext(ctx context.Context, path string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, context.Cause(ctx))
	}
	if d.pkt == nil {
		return nil, fmt.Errorf("audio: %s: decoder is closed", path)
	}
	if d.Rate <= 0 {
		return nil, fmt.Errorf("audio: %s: invalid output rate %d", path, d.Rate)
	}
	d.rs.outRate = d.Rate
	d.rs.ch = 0 // fresh resampler state for every clip
	d.out = d.out[:0]
	var err error
	if strings.EqualFold(filepath.Ext(path), ".wav") {
		err = d.decodeWAV(ctx, path)
		if errors.Is(err, errNotPCM) {
			err = d.decodeFFmpeg(ctx, path)
		}
	} else {
		err = d.decodeFFmpeg(ctx, path)
	}
	if err != nil {
		return nil, err
	}
	return d.result(path)
}

// result returns a clamped copy of d.out.
func (d *Decoder) result(path string) ([]float32, error) {
	if len(d.out) == 0 {
		return nil, fmt.Errorf("audio: %s: no audio samples decoded", path)
	}
	res := make([]float32, len(d.out))
	for i, v := range d.out {
		res[i] = min(max(v, -1), 1)
	}
	return res, nil
}

// decodeFFmpeg demuxes and decodes the first audio stream of path into d.out.
func (d *Decoder) decodeFFmpeg(ctx context.Context, path string) (err error) {
	// A context error wins over FFmpeg's "immediate exit requested" from the interrupt.
	defer func() {
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("audio: %s: %w", path, context.Cause(ctx))
		}
	}()
	fc, err := demux.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("audio: open %s: %w", path, err)
	}
	defer fc.Close()
	if err := fc.FindStreams(func(fc *astiav.FormatContext) bool { return FindStream(fc) != nil }); err != nil {
		return fmt.Errorf("audio: %s: reading stream info: %w", path, err)
	}
	st := FindStream(fc.FormatContext)
	if st == nil {
		return fmt.Errorf("audio: %s: no audio stream", path)
	}
	if err := d.begin(path, st); err != nil {
		return err
	}
	defer d.freeStream()
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("audio: %s: %w", path, context.Cause(ctx))
		}
		if err := fc.ReadFrame(d.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return fmt.Errorf("audio: %s: reading packet: %w", path, err)
		}
		if d.pkt.StreamIndex() != st.Index() {
			d.pkt.Unref()
			continue
		}
		err := d.packet(d.pkt)
		d.pkt.Unref()
		if err != nil {
			return err
		}
	}
	d.durS = 0 // as declared after the whole file was read
	if dur := st.Duration(); dur > 0 && dur != astiav.NoPtsValue {
		d.durS = float64(dur) * st.TimeBase().Float64()
	}
	return d.end()
}

// FindStream returns the stream Decode decodes in an opened (and, for header-less
// containers, probed) file: the first audio stream, or nil.
func FindStream(fc *astiav.FormatContext) *astiav.Stream {
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeAudio {
			return s
		}
	}
	return nil
}

// Begin starts decoding st, a stream of a file the caller demuxes itself (so that a file
// holding audio and video is opened and probed once): the caller then passes every packet of st
// to Packet, in file order, and collects the samples with End, which gives what Decode
// would for the file. path names the file in errors. A Begin without End is undone by the
// next Begin or Close.
func (d *Decoder) Begin(path string, st *astiav.Stream) error {
	if d.pkt == nil {
		return fmt.Errorf("audio: %s: decoder is closed", path)
	}
	if d.Rate <= 0 {
		return fmt.Errorf("audio: %s: invalid output rate %d", path, d.Rate)
	}
	if st == nil || st.CodecParameters().MediaType() != astiav.MediaTypeAudio {
		return fmt.Errorf("audio: %s: no audio stream", path)
	}
	d.rs.outRate = d.Rate
	d.rs.ch = 0 // fresh resampler state for every clip
	d.out = d.out[:0]
	return d.begin(path, st)
}

// Packet decodes one packet of the stream given to Begin. Corrupt packets are skipped, as
// Decode does; the error is for failures that stop decoding.
func (d *Decoder) Packet(pkt *astiav.Packet) error {
	if d.cc == nil {
		return errors.New("audio: Packet without Begin")
	}
	return d.packet(pkt)
}

// End flushes the decoder started by Begin and returns the clip's samples (mono, in [-1,1], at
// d.Rate, freshly allocated), as Decode would.
func (d *Decoder) End() ([]float32, error) {
	if d.cc == nil {
		return nil, errors.New("audio: End without Begin")
	}
	defer d.freeStream()
	if err := d.end(); err != nil {
		return nil, err
	}
	return d.result(d.path)
}

// begin opens a decoder for st; d.freeStream releases it.
func (d *Decoder) begin(path string, st *astiav.Stream) error {
	d.freeStream()
	par := st.CodecParameters()
	codec := astiav.FindDecoder(par.CodecID())
	if codec == nil {
		return fmt.Errorf("audio: %s: no decoder for codec %s", path, par.CodecID())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return fmt.Errorf("audio: %s: cannot allocate codec context", path)
	}
	if err := par.ToCodecContext(cc); err != nil {
		cc.Free()
		return fmt.Errorf("audio: %s: codec parameters: %w", path, err)
	}
	cc.SetTimeBase(st.TimeBase())
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return fmt.Errorf("audio: %s: opening %s decoder: %w", path, par.CodecID(), err)
	}
	// What end needs of st is copied: with Begin, the caller may close the file (and free st)
	// before End.
	d.cc, d.codecID, d.path, d.lastDecodeErr = cc, par.CodecID(), path, nil
	d.durS = 0
	if dur := st.Duration(); dur > 0 && dur != astiav.NoPtsValue {
		d.durS = float64(dur) * st.TimeBase().Float64()
	}
	return nil
}

// freeStream releases the codec context opened by begin.
func (d *Decoder) freeStream() {
	if d.cc != nil {
		d.cc.Free()
	}
	d.cc, d.lastDecodeErr = nil, nil
}

// packet sends one packet to the decoder and resamples the frames it returns.
func (d *Decoder) packet(pkt *astiav.Packet) error {
	err := d.cc.SendPacket(pkt)
	if err != nil && !errors.Is(err, astiav.ErrEagain) {
		d.lastDecodeErr = err // a corrupt packet: skip it, as ffmpeg does
		return nil
	}
	if err := d.drain(d.cc); err != nil {
		d.lastDecodeErr = err
		if isFatal(err) {
			return fmt.Errorf("audio: %s: %w", d.path, err)
		}
	}
	return nil
}

// end flushes the decoder and the resampler into d.out and trims it.
func (d *Decoder) end() error {
	if err := d.cc.SendPacket(nil); err == nil {
		if err := d.drain(d.cc); err != nil && isFatal(err) {
			return fmt.Errorf("audio: %s: %w", d.path, err)
		}
	}
	var err error
	if d.out, err = d.rs.flush(d.out); err != nil {
		return fmt.Errorf("audio: %s: %w", d.path, err)
	}
	if len(d.out) == 0 && d.lastDecodeErr != nil {
		return fmt.Errorf("audio: %s: decoding %s: %w", d.path, d.codecID, d.lastDecodeErr)
	}
	d.trim()
	return nil
}

// errResample marks resampler failures, which stop decoding (unlike a corrupt packet).
var errResample = errors.New("resample")

func isFatal(err error) bool { return errors.Is(err, errResample) }

// drain receives every frame the codec has ready and appends its resampled samples to d.out.
func (d *Decoder) drain(cc *astiav.CodecContext) error {
	for {
		err := cc.ReceiveFrame(d.frm)
		if err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return err
		}
		d.out, err = d.rs.frame(d.out, d.frm)
		d.frm.Unref()
		if err != nil {
			return fmt.Errorf("%w: %w", errResample, err)
		}
	}
}

// trim cuts d.out to the audio stream's declared duration: AAC decoders emit whole 1024-sample
// frames, so the tail may carry encoder padding the MP4 edit list excludes. Only a stream-level
// duration is trusted; container-level ones (FLV metadata) are often rounded or short.
func (d *Decoder) trim() {
	if d.durS <= 0 {
		return
	}
	want := int(d.durS*float64(d.Rate) + 0.5)
	if want > 0 && want < len(d.out) {
		d.out = d.out[:want]
	}
}
