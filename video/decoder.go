package video

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/internal/demux"
)

// Sampler chooses frames deterministically: Count frames; FPS==0 means uniform over the
// duration (frame i at time (i+0.5)*duration/Count); FPS>0 means times (i+0.5)/FPS for
// i<Count (clamped to the last frame).
type Sampler struct {
	Count int
	FPS   float64
}

// times returns the Count target times in seconds for a clip of the given duration.
func (s Sampler) times(dst []float64, durationS float64) []float64 {
	dst = dst[:0]
	for i := 0; i < s.Count; i++ {
		if s.FPS > 0 {
			dst = append(dst, (float64(i)+0.5)/s.FPS)
		} else {
			dst = append(dst, (float64(i)+0.5)*durationS/float64(s.Count))
		}
	}
	return dst
}

// seekMargin is subtracted from a target before looking up the keyframe to seek to: the
// index holds decode timestamps, which lead presentation timestamps by the B-frame delay.
const seekMargin = 0.25 // seconds

// skipMargin is how far before a target non-reference frames are still decoded (unless
// DecodeNonRef): at least two frame durations, so the frame on screen at the target is always
// decoded even with some timestamp jitter.
const skipMargin = 0.2 // seconds

// Decoder demuxes and decodes the best video stream of a file and returns the frames its
// Sampler picks as RGB24 at a fixed size. One per worker, reused across clips; not safe for
// concurrent use.
type Decoder struct {
	// Threads is the number of decoder threads per clip (NewDecoder sets 1; 0 lets FFmpeg
	// choose).
	Threads int
	// Sequential disables seeking to keyframes: every frame up to the last target is decoded.
	Sequential bool
	// DecodeNonRef decodes every frame up to the first one past the last target. By default,
	// frames that no other frame references (H.264/HEVC B-frames, for instance) are skipped
	// while their timestamp is more than skipMargin before the next target, and with codecs
	// that neither reorder nor delay frames (VP6, for instance) the frame after a target is
	// not decoded once its packet's timestamp shows it comes later: the returned frames are the
	// same byte for byte, for less decoding.
	DecodeNonRef bool

	sampler       Sampler
	width, height int

	// per-clip orientation and notes (see Notes)
	orientation Orientation // the stream's display matrix
	applied     Orientation // what the last frame written was turned by
	notes       []string
	turn        *turner // the filter graph turning frames, kept while they fit

	pkt            *astiav.Packet
	frm, prev, rgb *astiav.Frame
	sws            *astiav.SoftwareScaleContext
	swsW, swsH     int
	swsFmt         astiav.PixelFormat
	targets        []float64

	// per-clip decoding state
	maxDts   int64 // largest dts sent to the decoder
	ptsLead  int64 // pts - dts of the first video packet (the B-frame delay), -1 until seen
	draining bool  // end of input reached, decoder flushed with a nil packet
	// non-reference packets with a pts below skipBefore are dropped (NoPtsValue: none)
	skipBefore int64
	skipping   bool // the decoder's skip_frame is AVDISCARD_NONREF
	decoded    int  // frames decoded for the last clip (for the tests)
	// With a decoder that returns each frame for its own packet (see stopsEarly), a packet
	// whose time is past stopAfter is not decoded: feed puts it back and returns errPastTarget,
	// and pastT is its time. +Inf: every packet is decoded.
	stopAfter, pastT float64
	start            int64   // the stream's start time, in its time base
	tb               float64 // the stream's time base, in seconds
	// FramesShared's sink and its stream (nil, -1: none); sinkErr is the error it returned
	sink    PacketSink
	sinkIdx int
	sinkErr error
}

// NewDecoder returns a Decoder that picks frames with s and scales them to width×height.
func NewDecoder(s Sampler, width, height int) *Decoder {
	return &Decoder{
		Threads: 1,
		sampler: s,
		width:   width,
		height:  height,
		pkt:     astiav.AllocPacket(),
		frm:     astiav.AllocFrame(),
		prev:    astiav.AllocFrame(),
		rgb:     astiav.AllocFrame(),
	}
}

// Close frees the Decoder's FFmpeg objects. The Decoder must not be used afterwards.
func (d *Decoder) Close() {
	for _, f := range []**astiav.Frame{&d.frm, &d.prev, &d.rgb} {
		if *f != nil {
			(*f).Free()
			*f = nil
		}
	}
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.sws != nil {
		d.sws.Free()
		d.sws = nil
	}
	d.turn.free()
	d.turn = nil
}

// FrameSize is the number of bytes of one returned frame (height*width*3).
func (d *Decoder) FrameSize() int { return d.height * d.width * 3 }

// Notes says what the Decoder did to the last clip that its file alone would not tell a reader
// of the frames: that the pictures were turned to the orientation players show (the display
// matrix), or that the file's headers disagreed about its duration and which one the frames
// were sampled over. Empty for most clips; valid until the next clip.
func (d *Decoder) Notes() []string { return d.notes }

// Orientation returns how the last clip's frames were turned from their coded orientation.
func (d *Decoder) Orientation() Orientation { return d.applied }

// Frames returns Count RGB24 frames, each height*width*3 bytes, concatenated
// (len = Count*H*W*3), and the clip's duration in seconds. Error if no video stream /
// undecodable. The slice is freshly allocated and owned by the caller.
//
// The duration is the video stream's, else the container's, else the end of the last video
// packet.
func (d *Decoder) Frames(path string) (frames []byte, durationS float64, err error) {
	return d.FramesContext(context.Background(), path)
}

// FramesContext is Frames with a deadline: once ctx is done the demux/decode loop stops, and a
// read blocked inside FFmpeg is aborted through the format context's interrupt callback. The
// error then wraps context.Cause(ctx) and names path.
func (d *Decoder) FramesContext(ctx context.Context, path string) (frames []byte, durationS float64, err error) {
	frames, durationS, _, err = d.FramesShared(ctx, path, nil)
	return frames, durationS, err
}

// PacketSink receives the packets of one more stream of the file FramesShared decodes, so a
// file holding audio and video is opened, probed and read once. audio.Decoder's Begin, Packet
// and End fit it.
type PacketSink interface {
	// Open is called once the file is open and probed and its video decoder ready, before
	// any frame is decoded. If shared, it returns the index of the stream whose packets it
	// wants; if not, it is told the file will not be shared (the caller decodes that stream on
	// its own) and its stream index is ignored. An error stops FramesShared and is returned as
	// is.
	Open(fc *astiav.FormatContext, shared bool) (stream int, err error)
	// Packet receives every packet of that stream, in file order; pkt is only valid during the
	// call. An error stops FramesShared and is returned as is.
	Packet(pkt *astiav.Packet) error
}

// FramesShared is FramesContext that also feeds sink, when sharing the file costs the video
// nothing: when seeking could not skip any frame (the file's index shows no keyframe after the
// first before the last target, as in a short FLV with one keyframe, or Sequential is set). The
// video stream is then decoded in one pass that hands sink every packet of its stream, up to
// the end of the file, and shared is true. Otherwise sink.Open is told so and sink gets no
// packet (shared is false): the caller decodes that stream on its own. With a nil sink this is
// FramesContext.
//
// Errors of sink are returned as they are, so the caller can tell them from the video's own
// (which name the video and path).
func (d *Decoder) FramesShared(ctx context.Context, path string, sink PacketSink) (frames []byte, durationS float64, shared bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("video: %s: %w", path, context.Cause(ctx))
	}
	var sinkErr error // returned as is, context error or not
	// A context error wins over FFmpeg's "immediate exit requested" from the interrupt.
	defer func() {
		if err != nil && sinkErr == nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			frames, durationS, err = nil, 0, fmt.Errorf("video: %s: %w", path, context.Cause(ctx))
		}
	}()
	if d.pkt == nil {
		return nil, 0, false, fmt.Errorf("video: %s: decoder is closed", path)
	}
	if d.sampler.Count <= 0 || d.width <= 0 || d.height <= 0 {
		return nil, 0, false, fmt.Errorf("video: %s: invalid sampler %+v or size %dx%d", path, d.sampler, d.width, d.height)
	}
	d.notes, d.applied = d.notes[:0], AsCoded
	fc, idx, err := openVideo(ctx, path)
	if err != nil {
		return nil, 0, false, err
	}
	defer fc.Close()
	st := fc.Streams()[idx]
	if d.orientation, err = streamOrientation(st); err != nil {
		return nil, 0, false, fmt.Errorf("video: %s: %w", path, err)
	}
	durationS, note, err := clipDuration(ctx, path, fc.FormatContext, st)
	if err != nil {
		return nil, 0, false, err
	}
	if note != "" {
		d.notes = append(d.notes, note)
	}
	d.targets = d.sampler.times(d.targets, durationS)

	par := st.CodecParameters()
	codec := astiav.FindDecoder(par.CodecID())
	if codec == nil {
		return nil, 0, false, fmt.Errorf("video: %s: no decoder for codec %s", path, par.CodecID())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, 0, false, fmt.Errorf("video: %s: cannot allocate codec context", path)
	}
	defer cc.Free()
	if err := par.ToCodecContext(cc); err != nil {
		return nil, 0, false, fmt.Errorf("video: %s: codec parameters: %w", path, err)
	}
	cc.SetTimeBase(st.TimeBase())
	cc.SetThreadCount(d.Threads)
	if err := cc.Open(codec, nil); err != nil {
		return nil, 0, false, fmt.Errorf("video: %s: opening %s decoder: %w", path, par.CodecID(), err)
	}

	d.sink, d.sinkIdx = nil, -1
	defer func() { d.sink = nil }()
	if sink != nil {
		shared = !d.seekCanSkip(st)
		si, err := sink.Open(fc.FormatContext, shared)
		if err != nil {
			sinkErr = err
			return nil, 0, false, err
		}
		if shared && si >= 0 && si < len(fc.Streams()) && si != idx {
			d.sink, d.sinkIdx = sink, si
			discardAllBut(fc.FormatContext, idx, si)
		}
	}
	frames = make([]byte, d.sampler.Count*d.FrameSize())
	if err := d.decode(ctx, fc, st, cc, frames); err != nil {
		if d.sinkErr != nil {
			sinkErr = d.sinkErr
			return nil, 0, shared, sinkErr
		}
		return nil, 0, shared, fmt.Errorf("video: %s: %w", path, err)
	}
	if d.sink != nil && !d.draining { // the rest of the file, for the sink alone
		discardAllBut(fc.FormatContext, d.sinkIdx, d.sinkIdx)
		if err := d.feedSink(ctx, fc); err != nil {
			if d.sinkErr != nil {
				sinkErr = d.sinkErr
				return nil, 0, shared, sinkErr
			}
			return nil, 0, shared, fmt.Errorf("video: %s: %w", path, err)
		}
	}
	if d.applied != AsCoded {
		d.notes = append(d.notes, "display: frames turned as players show them ("+d.applied.String()+", from the display matrix)")
	}
	return frames, durationS, shared, nil
}

// seekCanSkip reports whether seeking may skip frames before the last target: the index shows
// a keyframe after the first one at or before it.
func (d *Decoder) seekCanSkip(st *astiav.Stream) bool {
	if d.Sequential || len(d.targets) == 0 {
		return false
	}
	first, ok := firstIndexed(st)
	if !ok {
		return false
	}
	start := st.StartTime()
	if start == astiav.NoPtsValue {
		start = 0
	}
	last := d.targets[len(d.targets)-1]
	k, ok := keyframeBefore(st, start+int64(math.Floor((last-seekMargin)/st.TimeBase().Float64())))
	return ok && k > first
}

// feedSink reads the rest of the file and hands the sink's packets to it.
func (d *Decoder) feedSink(ctx context.Context, fc *demux.Input) error {
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := fc.ReadFrame(d.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("reading packet: %w", err)
		}
		if d.pkt.StreamIndex() == d.sinkIdx {
			if err := d.sink.Packet(d.pkt); err != nil {
				d.pkt.Unref()
				d.sinkErr = err
				return err
			}
		}
		d.pkt.Unref()
	}
}

// decode runs the demux/decode loop, writing the frame shown at each target time to out.
func (d *Decoder) decode(ctx context.Context, fc *demux.Input, st *astiav.Stream, cc *astiav.CodecContext, out []byte) error {
	defer d.frm.Unref()
	defer d.prev.Unref()
	d.maxDts, d.ptsLead, d.draining = math.MinInt64, -1, false
	d.skipBefore, d.skipping, d.decoded, d.sinkErr = astiav.NoPtsValue, false, 0, nil
	tb := st.TimeBase().Float64()
	start := st.StartTime()
	if start == astiav.NoPtsValue {
		start = 0
	}
	d.start, d.tb, d.stopAfter = start, tb, math.Inf(1)
	defer func() { d.stopAfter = math.Inf(1) }()
	peek := !d.DecodeNonRef && d.Threads == 1 && stopsEarly(cc)
	frameDur := 1 / 25.0
	if r := st.AvgFrameRate(); r.Num() > 0 && r.Den() > 0 {
		frameDur = 1 / r.Float64()
	}
	seek := !d.Sequential && d.sink == nil // a seek would skip the sink's packets too
	havePrev, prevT := false, math.Inf(-1)
	size := d.FrameSize()
	var lastErr error
	// Skipping needs the end of the stream: a target past it shows the last frame, which may
	// be a non-reference one. Without a stream duration nothing is skipped.
	skipDur := max(2*frameDur, skipMargin) / tb
	end := math.Inf(-1)
	if dur := st.Duration(); dur > 0 && dur != astiav.NoPtsValue {
		end = float64(dur) * tb
	}
	j, checked := 0, -1
	for j < len(d.targets) {
		if checked != j {
			checked = j
			if seek {
				seek = d.seekBefore(fc, st, cc, start, d.targets[j])
			}
			if at := min(d.targets[j], end); !d.DecodeNonRef && at > 0 {
				d.skipBefore = start + int64(math.Floor(at/tb-skipDur))
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if peek && havePrev {
			d.stopAfter = d.targets[j]
		}
		got, err := d.next(ctx, fc, st.Index(), cc, &lastErr)
		if errors.Is(err, errPastTarget) {
			// The next frame comes after the target: the previous one is on screen there.
			for ; j < len(d.targets) && d.pastT > d.targets[j]; j++ {
				if err := d.write(d.prev, out[j*size:(j+1)*size]); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
		if !got {
			break
		}
		t := prevT + frameDur
		if ts := bestEffortTimestamp(d.frm); ts != astiav.NoPtsValue {
			t = float64(ts-start) * tb
		}
		for ; j < len(d.targets) && t > d.targets[j]; j++ {
			src := d.prev
			if !havePrev {
				src = d.frm // target before the first frame: use the first frame
			}
			if err := d.write(src, out[j*size:(j+1)*size]); err != nil {
				return err
			}
		}
		d.prev.Unref()
		d.prev.MoveRef(d.frm)
		havePrev, prevT = true, t
	}
	if j < len(d.targets) {
		if !havePrev {
			if lastErr != nil {
				return fmt.Errorf("no decodable video frame: %w", lastErr)
			}
			return errors.New("no decodable video frame")
		}
		for ; j < len(d.targets); j++ { // past the last frame: repeat it
			if err := d.write(d.prev, out[j*size:(j+1)*size]); err != nil {
				return err
			}
		}
	}
	return nil
}

// seekBefore jumps to the last keyframe before target when the index shows one beyond
// everything sent to the decoder so far, so the frames in between are never decoded. It
// returns false when seeking turned out impossible (the caller then stops trying).
//
// Demuxers take a presentation timestamp (MP4 maps it to decode time itself) while the index
// holds decode timestamps, so the index is searched at the seek time minus the stream's
// pts-dts lead. A seek that lands earlier than intended only costs time: frames before the
// target merely update the frame on screen.
func (d *Decoder) seekBefore(fc *demux.Input, st *astiav.Stream, cc *astiav.CodecContext, start int64, target float64) bool {
	if d.draining {
		return false
	}
	ts := start + int64(math.Floor((target-seekMargin)/st.TimeBase().Float64()))
	k, ok := keyframeBefore(st, ts-max(d.ptsLead, 0))
	if !ok || k <= d.maxDts {
		return true
	}
	if err := fc.SeekFrame(st.Index(), ts, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
		return false
	}
	flushDecoder(cc)
	d.maxDts = k
	return true
}

// errPastTarget is feed's signal that the next video packet is past d.stopAfter.
var errPastTarget = errors.New("next packet is past the target")

// next decodes the next frame into d.frm. It returns false at the end of the stream. Corrupt
// packets are skipped (the last such error is kept in lastErr); read errors other than end of
// file are returned.
func (d *Decoder) next(ctx context.Context, fc *demux.Input, idx int, cc *astiav.CodecContext, lastErr *error) (bool, error) {
	for {
		if ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		err := cc.ReceiveFrame(d.frm)
		switch {
		case err == nil:
			d.decoded++
			return true, nil
		case errors.Is(err, astiav.ErrEof):
			return false, nil
		case errors.Is(err, astiav.ErrEagain):
			if d.draining {
				return false, nil
			}
		default:
			*lastErr = err
			if d.draining {
				return false, nil
			}
		}
		if err := d.feed(ctx, fc, idx, cc, lastErr); err != nil {
			return false, err
		}
	}
}

// feed reads packets until one of stream idx has been sent to the decoder, or flushes the
// decoder at the end of the input.
func (d *Decoder) feed(ctx context.Context, fc *demux.Input, idx int, cc *astiav.CodecContext, lastErr *error) error {
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := fc.ReadFrame(d.pkt); err != nil {
			if !errors.Is(err, astiav.ErrEof) {
				return fmt.Errorf("reading packet: %w", err)
			}
			d.draining = true
			if err := cc.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
				*lastErr = err
			}
			return nil
		}
		if d.pkt.StreamIndex() != idx {
			if d.sink != nil && d.pkt.StreamIndex() == d.sinkIdx {
				if err := d.sink.Packet(d.pkt); err != nil {
					d.pkt.Unref()
					d.sinkErr = err
					return err
				}
			}
			d.pkt.Unref()
			continue
		}
		if dts := d.pkt.Dts(); dts != astiav.NoPtsValue {
			d.maxDts = max(d.maxDts, dts)
			if pts := d.pkt.Pts(); d.ptsLead < 0 && pts != astiav.NoPtsValue {
				d.ptsLead = max(pts-dts, 0)
			}
		}
		pts := d.pkt.Pts()
		if pts != astiav.NoPtsValue && pts == d.pkt.Dts() {
			if t := float64(pts-d.start) * d.tb; t > d.stopAfter {
				fc.Unread(d.pkt)
				d.pastT = t
				return errPastTarget
			}
		}
		if skip := d.skipBefore != astiav.NoPtsValue && pts != astiav.NoPtsValue && pts < d.skipBefore; skip != d.skipping {
			skipNonRef(cc, skip)
			d.skipping = skip
		}
		err := cc.SendPacket(d.pkt)
		d.pkt.Unref()
		if err != nil {
			*lastErr = err // a corrupt packet: skip it, as ffmpeg does
		}
		return nil
	}
}

// write converts and scales f into dst (height*width*3 bytes of RGB24), turned first to the
// orientation its display matrix asks for (the frame's own, else the stream's).
func (d *Decoder) write(f *astiav.Frame, dst []byte) error {
	o := d.orientation
	if fo, ok, err := frameOrientation(f); err != nil {
		return err
	} else if ok {
		o = fo
	}
	if o != AsCoded {
		if !d.turn.fits(f, o) {
			d.turn.free()
			t, err := newTurner(f, o)
			if err != nil {
				d.turn = nil
				return err
			}
			d.turn = t
		}
		var err error
		if f, err = d.turn.turn(f); err != nil {
			return err
		}
	}
	w, h, pf := f.Width(), f.Height(), f.PixelFormat()
	if d.sws == nil || w != d.swsW || h != d.swsH || pf != d.swsFmt {
		if d.sws != nil {
			d.sws.Free()
			d.sws = nil
		}
		sws, err := astiav.CreateSoftwareScaleContext(w, h, pf, d.width, d.height, astiav.PixelFormatRgb24,
			astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
		if err != nil {
			return fmt.Errorf("scaler %dx%d %s -> %dx%d rgb24: %w", w, h, pf, d.width, d.height, err)
		}
		d.sws, d.swsW, d.swsH, d.swsFmt = sws, w, h, pf
	}
	if err := d.sws.ScaleFrame(f, d.rgb); err != nil {
		return fmt.Errorf("scaling frame: %w", err)
	}
	if _, err := d.rgb.ImageCopyToBuffer(dst, 1); err != nil {
		return fmt.Errorf("copying frame: %w", err)
	}
	d.applied = o
	return nil
}

// openVideo opens path, makes its streams known and returns the index of the best video
// stream; the demuxer is told to skip every other stream. Once ctx is done, blocked reads give
// up.
func openVideo(ctx context.Context, path string) (*demux.Input, int, error) {
	fc, err := demux.Open(ctx, path)
	if err != nil {
		return nil, 0, fmt.Errorf("video: open %s: %w", path, err)
	}
	if err := fc.FindStreams(func(fc *astiav.FormatContext) bool { return bestVideoStream(fc) >= 0 }); err != nil {
		fc.Close()
		return nil, 0, fmt.Errorf("video: %s: reading stream info: %w", path, err)
	}
	idx := bestVideoStream(fc.FormatContext)
	if idx < 0 {
		fc.Close()
		return nil, 0, fmt.Errorf("video: %s: no video stream", path)
	}
	discardOtherStreams(fc.FormatContext, idx)
	return fc, idx, nil
}
