package synth

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// pickVideoCodec returns the encoder named name, or libx264 (else mpeg4) when name is "".
func pickVideoCodec(name string) (*astiav.Codec, error) {
	if name != "" {
		if c := astiav.FindEncoderByName(name); c != nil && c.ID().MediaType() == astiav.MediaTypeVideo {
			return c, nil
		}
		return nil, fmt.Errorf("synth: video encoder %q not available in this FFmpeg", name)
	}
	for _, n := range []string{"libx264", "mpeg4"} {
		if c := astiav.FindEncoderByName(n); c != nil {
			return c, nil
		}
	}
	return nil, errors.New("synth: neither libx264 nor mpeg4 encoder is available in this FFmpeg")
}

// encoder writes clips as MP4 (video + AAC mono audio). One per worker: the scaler, frames and
// packet are reused; codec and format contexts are per clip since an encoder cannot be reopened.
type encoder struct {
	cfg    Config
	vcodec *astiav.Codec
	acodec *astiav.Codec
	sws    *astiav.SoftwareScaleContext
	rgb    *astiav.Frame // source picture, only ever read by sws
	yuv    *astiav.Frame // encoder input, reallocated per video frame
	afr    *astiav.Frame // encoder input, reallocated per audio frame
	pkt    *astiav.Packet
}

func newEncoder(cfg Config, vcodec *astiav.Codec) (*encoder, error) {
	e := &encoder{cfg: cfg, vcodec: vcodec, acodec: astiav.FindEncoder(astiav.CodecIDAac)}
	if e.acodec == nil {
		return nil, errors.New("synth: AAC encoder not available in this FFmpeg")
	}
	pf := e.pixelFormat()
	var err error
	e.sws, err = astiav.CreateSoftwareScaleContext(cfg.Width, cfg.Height, astiav.PixelFormatRgb24,
		cfg.Width, cfg.Height, pf, astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
	if err != nil {
		return nil, fmt.Errorf("synth: creating RGB24→%s scaler: %w", pf, err)
	}
	e.rgb, e.yuv, e.afr, e.pkt = astiav.AllocFrame(), astiav.AllocFrame(), astiav.AllocFrame(), astiav.AllocPacket()
	e.rgb.SetWidth(cfg.Width)
	e.rgb.SetHeight(cfg.Height)
	e.rgb.SetPixelFormat(astiav.PixelFormatRgb24)
	if err := e.rgb.AllocBuffer(0); err != nil {
		e.close()
		return nil, fmt.Errorf("synth: allocating RGB frame: %w", err)
	}
	zeroFrame(e.rgb)
	return e, nil
}

// pixelFormat is yuv420p, or the encoder's first format if it cannot take yuv420p.
func (e *encoder) pixelFormat() astiav.PixelFormat {
	pfs := e.vcodec.PixelFormats()
	for _, pf := range pfs {
		if pf == astiav.PixelFormatYuv420P {
			return pf
		}
	}
	if len(pfs) > 0 {
		return pfs[0]
	}
	return astiav.PixelFormatYuv420P
}

func (e *encoder) close() {
	e.pkt.Free()
	e.afr.Free()
	e.yuv.Free()
	e.rgb.Free()
	e.sws.Free()
}

// clipOut is the per-clip muxer state.
type clipOut struct {
	fc     *astiav.FormatContext
	vcc    *astiav.CodecContext
	acc    *astiav.CodecContext
	vs, as *astiav.Stream
}

// encode writes audio (mono, cfg.SampleRate) and rgb (cfg.frames() RGB24 frames) to path.
// The caller removes path on error.
func (e *encoder) encode(path string, audio []float32, rgb []byte) (err error) {
	c := e.cfg
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", path)
	if err != nil {
		return fmt.Errorf("allocating mp4 muxer: %w", err)
	}
	defer fc.Free()
	o := clipOut{fc: fc}
	globalHeader := fc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader)

	if o.vcc, o.vs, err = e.openVideo(fc, globalHeader); err != nil {
		return err
	}
	defer o.vcc.Free()
	if o.acc, o.as, err = e.openAudio(fc, globalHeader); err != nil {
		return err
	}
	defer o.acc.Free()

	ioc, err := astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return fmt.Errorf("opening output: %w", err)
	}
	defer func() {
		if cerr := ioc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing output: %w", cerr)
		}
	}()
	fc.SetPb(ioc)
	if err := fc.WriteHeader(nil); err != nil {
		return fmt.Errorf("writing mp4 header: %w", err)
	}

	// Interleave: before video frame f, send the audio that ends by the frame's end.
	frameSize := o.acc.FrameSize()
	if frameSize <= 0 {
		frameSize = 1024
	}
	frameLen := c.Width * c.Height * 3
	nf := c.frames()
	sent := 0
	for f := range nf {
		until := min(len(audio), (f+1)*c.SampleRate/c.FPS)
		last := f == nf-1
		// whole AAC frames only; a short one only at the very end of the clip
		for sent < len(audio) && (last || sent+frameSize <= until) {
			n := min(frameSize, len(audio)-sent)
			if err := e.sendAudio(&o, audio[sent:sent+n], sent); err != nil {
				return err
			}
			sent += n
		}
		if err := e.sendVideo(&o, rgb[f*frameLen:(f+1)*frameLen], f); err != nil {
			return err
		}
	}
	if err := o.vcc.SendFrame(nil); err != nil {
		return fmt.Errorf("flushing video encoder: %w", err)
	}
	if err := e.drain(&o, o.vcc, o.vs, true); err != nil {
		return err
	}
	if err := o.acc.SendFrame(nil); err != nil {
		return fmt.Errorf("flushing audio encoder: %w", err)
	}
	if err := e.drain(&o, o.acc, o.as, false); err != nil {
		return err
	}
	if err := fc.WriteTrailer(); err != nil {
		return fmt.Errorf("writing mp4 trailer: %w", err)
	}
	return nil
}

// quietOptions starts an encoder's options with log_level_offset 8, which demotes this context's
// messages by one level: the per-clip info lines of libx264 (its SEI) and of AAC (Qavg) become
// verbose, warnings become info. It changes no process-wide log setting.
func quietOptions() *astiav.Dictionary {
	d := astiav.NewDictionary()
	_ = d.Set("log_level_offset", "8", 0)
	return d
}

func (e *encoder) openVideo(fc *astiav.FormatContext, globalHeader bool) (*astiav.CodecContext, *astiav.Stream, error) {
	c := e.cfg
	s := fc.NewStream(nil)
	if s == nil {
		return nil, nil, errors.New("creating video stream failed")
	}
	cc := astiav.AllocCodecContext(e.vcodec)
	if cc == nil {
		return nil, nil, fmt.Errorf("allocating %s encoder failed", e.vcodec.Name())
	}
	cc.SetWidth(c.Width)
	cc.SetHeight(c.Height)
	cc.SetPixelFormat(e.pixelFormat())
	cc.SetTimeBase(astiav.NewRational(1, c.FPS))
	cc.SetFramerate(astiav.NewRational(c.FPS, 1))
	cc.SetSampleAspectRatio(astiav.NewRational(1, 1))
	cc.SetGopSize(c.FPS)
	cc.SetThreadCount(1)
	if globalHeader {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	opts := quietOptions()
	defer opts.Free()
	if e.vcodec.Name() == "libx264" || e.vcodec.Name() == "libx264rgb" {
		_ = opts.Set("crf", strconv.Itoa(c.CRF), 0)
		_ = opts.Set("preset", "veryfast", 0)
	} else {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagQscale))
		_ = opts.Set("global_quality", strconv.Itoa((c.CRF/6+1)*118), 0) // qscale × FF_QP2LAMBDA
	}
	if err := cc.Open(e.vcodec, opts); err != nil {
		cc.Free()
		return nil, nil, fmt.Errorf("opening %s encoder (%dx%d @%d fps): %w", e.vcodec.Name(), c.Width, c.Height, c.FPS, err)
	}
	if err := s.CodecParameters().FromCodecContext(cc); err != nil {
		cc.Free()
		return nil, nil, fmt.Errorf("copying video codec parameters: %w", err)
	}
	s.SetTimeBase(cc.TimeBase())
	s.SetAvgFrameRate(astiav.NewRational(c.FPS, 1))
	return cc, s, nil
}

func (e *encoder) openAudio(fc *astiav.FormatContext, globalHeader bool) (*astiav.CodecContext, *astiav.Stream, error) {
	c := e.cfg
	s := fc.NewStream(nil)
	if s == nil {
		return nil, nil, errors.New("creating audio stream failed")
	}
	cc := astiav.AllocCodecContext(e.acodec)
	if cc == nil {
		return nil, nil, errors.New("allocating AAC encoder failed")
	}
	cc.SetSampleFormat(astiav.SampleFormatFltp)
	cc.SetSampleRate(c.SampleRate)
	cc.SetChannelLayout(astiav.ChannelLayoutMono)
	cc.SetTimeBase(astiav.NewRational(1, c.SampleRate))
	cc.SetBitRate(64000)
	cc.SetThreadCount(1)
	if globalHeader {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	opts := quietOptions()
	defer opts.Free()
	if err := cc.Open(e.acodec, opts); err != nil {
		cc.Free()
		return nil, nil, fmt.Errorf("opening AAC encoder (%d Hz mono fltp): %w", c.SampleRate, err)
	}
	if err := s.CodecParameters().FromCodecContext(cc); err != nil {
		cc.Free()
		return nil, nil, fmt.Errorf("copying audio codec parameters: %w", err)
	}
	s.SetTimeBase(cc.TimeBase())
	return cc, s, nil
}

// sendAudio encodes samples (at most FrameSize of them) starting at sample index start.
func (e *encoder) sendAudio(o *clipOut, samples []float32, start int) error {
	f := e.afr
	f.Unref()
	f.SetSampleFormat(astiav.SampleFormatFltp)
	f.SetChannelLayout(astiav.ChannelLayoutMono)
	f.SetSampleRate(e.cfg.SampleRate)
	f.SetNbSamples(len(samples))
	if err := f.AllocBuffer(0); err != nil {
		return fmt.Errorf("allocating audio frame: %w", err)
	}
	zeroFrame(f)
	if err := writePlane(f, 0, float32Bytes(samples), len(samples)*4, 1); err != nil {
		return fmt.Errorf("audio frame at sample %d: %w", start, err)
	}
	f.SetPts(int64(start))
	if err := o.acc.SendFrame(f); err != nil {
		return fmt.Errorf("encoding audio at sample %d: %w", start, err)
	}
	return e.drain(o, o.acc, o.as, false)
}

// sendVideo converts one RGB24 frame to the encoder's pixel format and encodes it as frame index.
func (e *encoder) sendVideo(o *clipOut, rgb []byte, index int) error {
	c := e.cfg
	if err := makeWritable(e.rgb); err != nil {
		return fmt.Errorf("video frame %d: %w", index, err)
	}
	if err := writePlane(e.rgb, 0, rgb, c.Width*3, c.Height); err != nil {
		return fmt.Errorf("video frame %d: %w", index, err)
	}
	// The encoder may still hold the previous buffer: take a fresh, zeroed one (see zeroFrame).
	e.yuv.Unref()
	e.yuv.SetWidth(c.Width)
	e.yuv.SetHeight(c.Height)
	e.yuv.SetPixelFormat(e.pixelFormat())
	if err := e.yuv.AllocBuffer(0); err != nil {
		return fmt.Errorf("allocating video frame %d: %w", index, err)
	}
	zeroFrame(e.yuv)
	if err := e.sws.ScaleFrame(e.rgb, e.yuv); err != nil {
		return fmt.Errorf("converting video frame %d: %w", index, err)
	}
	e.yuv.SetPts(int64(index))
	if err := o.vcc.SendFrame(e.yuv); err != nil {
		return fmt.Errorf("encoding video frame %d: %w", index, err)
	}
	return e.drain(o, o.vcc, o.vs, true)
}

// drain writes every packet the encoder has ready. Video packets get duration 1 (one frame),
// which libx264 and mpeg4 leave at 0 in FFmpeg 5.1; timestamps are rescaled to the stream's
// time base, which WriteHeader may have changed.
func (e *encoder) drain(o *clipOut, cc *astiav.CodecContext, s *astiav.Stream, video bool) error {
	for {
		if err := cc.ReceivePacket(e.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("receiving %s packet: %w", cc.CodecID().Name(), err)
		}
		if video && e.pkt.Duration() == 0 {
			e.pkt.SetDuration(1)
		}
		e.pkt.SetStreamIndex(s.Index())
		e.pkt.RescaleTs(cc.TimeBase(), s.TimeBase())
		if err := o.fc.WriteInterleavedFrame(e.pkt); err != nil {
			return fmt.Errorf("writing %s packet: %w", cc.CodecID().Name(), err)
		}
	}
}
