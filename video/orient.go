package video

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/asticode/go-astiav"
)

// Orientation is how a clip's coded picture is turned to show it the way players show it. It
// comes from the display matrix of the video stream (the MP4 track matrix that phones write,
// what older tools expose as the "rotate" tag) or of the decoded frames, read the way
// ffmpeg's autorotate reads it (fftools get_rotation and configure_input_video_filter, FFmpeg
// 5.1): a rotation by a multiple of 90° and a possible flip, one of the eight orientations of
// a rectangle.
type Orientation int

// The orientations, named after the ffmpeg filters autorotate inserts for them.
const (
	AsCoded    Orientation = iota // no display matrix, or the identity
	Rotate90                      // 90° clockwise: transpose=clock
	Rotate180                     // hflip and vflip
	Rotate270                     // 90° counter-clockwise: transpose=cclock
	FlipH                         // mirrored left to right: hflip
	FlipV                         // upside down: vflip
	Transpose                     // mirrored across the main diagonal: transpose=cclock_flip
	Transverse                    // mirrored across the other diagonal: transpose=clock_flip
)

var orientationNames = [...]string{"as coded", "rotate 90° clockwise", "rotate 180°", "rotate 90° counter-clockwise",
	"flip horizontally", "flip vertically", "transpose", "transverse"}

func (o Orientation) String() string {
	if o < 0 || int(o) >= len(orientationNames) {
		return fmt.Sprintf("Orientation(%d)", int(o))
	}
	return orientationNames[o]
}

// filters is the ffmpeg filter chain that turns a picture by o, the one autorotate inserts.
func (o Orientation) filters() string {
	return [...]string{"null", "transpose=clock", "hflip,vflip", "transpose=cclock", "hflip", "vflip",
		"transpose=cclock_flip", "transpose=clock_flip"}[o]
}

// orientationOf returns the orientation a display matrix (nil: none) asks for. A rotation by
// an angle that is not a multiple of 90° is an error: ffmpeg rotates such pictures by an
// arbitrary angle with filling, which this package does not do.
func orientationOf(m *[9]int32, rotation float64) (Orientation, error) {
	if m == nil {
		return AsCoded, nil
	}
	// get_rotation: the clockwise angle, in [0, 360).
	theta := -math.Round(rotation)
	theta -= 360 * math.Floor(theta/360+0.9/360)
	switch {
	case math.Abs(theta-90) < 1:
		if m[3] > 0 {
			return Transpose, nil
		}
		return Rotate90, nil
	case math.Abs(theta-180) < 1:
		switch h, v := m[0] < 0, m[4] < 0; {
		case h && v:
			return Rotate180, nil
		case h:
			return FlipH, nil
		case v:
			return FlipV, nil
		}
		return AsCoded, nil
	case math.Abs(theta-270) < 1:
		if m[3] < 0 {
			return Transverse, nil
		}
		return Rotate270, nil
	case math.Abs(theta) > 1:
		return AsCoded, fmt.Errorf("the display matrix rotates the picture by %g°, not a multiple of 90°: not supported", theta)
	case m[4] < 0:
		return FlipV, nil
	}
	return AsCoded, nil
}

// turner turns decoded frames of one size and pixel format by one orientation with ffmpeg's
// own filters (transpose, hflip, vflip) in a filter graph, in the frame's pixel format before
// it is scaled, exactly as ffmpeg's autorotate does. (Scaling first and turning the RGB
// picture after differs from ffmpeg by up to 20 levels on average: libswscale does not treat
// the two axes alike when shrinking.)
type turner struct {
	graph     *astiav.FilterGraph
	src, sink *astiav.FilterContext
	out       *astiav.Frame
	w, h      int
	pf        astiav.PixelFormat
	o         Orientation
}

// newTurner builds the filter graph turning frames like f by o.
func newTurner(f *astiav.Frame, o Orientation) (_ *turner, err error) {
	t := &turner{graph: astiav.AllocFilterGraph(), out: astiav.AllocFrame(), w: f.Width(), h: f.Height(), pf: f.PixelFormat(), o: o}
	defer func() {
		if err != nil {
			t.free()
			err = fmt.Errorf("turning the picture (%s): %w", o, err)
		}
	}()
	if t.graph == nil || t.out == nil {
		return t, errors.New("cannot allocate a filter graph")
	}
	t.graph.SetThreadCount(1)
	sar := f.SampleAspectRatio()
	if sar.Num() <= 0 || sar.Den() <= 0 {
		sar = astiav.NewRational(1, 1)
	}
	if t.src, err = t.graph.NewFilterContext(astiav.FindFilterByName("buffer"), "in", astiav.FilterArgs{
		"pix_fmt":      strconv.Itoa(int(t.pf)),
		"pixel_aspect": sar.String(),
		"time_base":    "1/1",
		"video_size":   strconv.Itoa(t.w) + "x" + strconv.Itoa(t.h),
	}); err != nil {
		return t, err
	}
	if t.sink, err = t.graph.NewFilterContext(astiav.FindFilterByName("buffersink"), "out", nil); err != nil {
		return t, err
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(t.src)
	inputs.SetName("out")
	inputs.SetFilterContext(t.sink)
	if err = t.graph.Parse(o.filters(), inputs, outputs); err != nil {
		return t, err
	}
	return t, t.graph.Configure()
}

// fits reports whether t turns frames like f by o.
func (t *turner) fits(f *astiav.Frame, o Orientation) bool {
	return t != nil && t.o == o && t.w == f.Width() && t.h == f.Height() && t.pf == f.PixelFormat()
}

// turn returns f turned; the frame is t's and valid until the next call.
func (t *turner) turn(f *astiav.Frame) (*astiav.Frame, error) {
	t.out.Unref()
	if err := t.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return nil, fmt.Errorf("turning the picture (%s): %w", t.o, err)
	}
	if err := t.sink.BuffersinkGetFrame(t.out, astiav.NewBuffersinkFlags()); err != nil {
		return nil, fmt.Errorf("turning the picture (%s): %w", t.o, err)
	}
	return t.out, nil
}

func (t *turner) free() {
	if t == nil {
		return
	}
	if t.graph != nil {
		t.graph.Free() // frees the filter contexts too
		t.graph = nil
	}
	if t.out != nil {
		t.out.Free()
		t.out = nil
	}
}
