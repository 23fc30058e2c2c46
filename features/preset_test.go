package features

import (
	"math"
	"strings"
	"testing"
)

// TestLookupWithInvalidOverrides: an override that is set (non-zero) but invalid is an error that
// names the preset once, never silently replaced by the preset's value; zero keeps the value.
func TestLookupWithInvalidOverrides(t *testing.T) {
	for _, o := range []Overrides{
		{Frames: -2}, {Size: -1}, {Size: 9000}, {Seconds: -1}, {Seconds: math.NaN()}, {Seconds: math.Inf(1)},
		{Seconds: 0.001}, {Frames: 1_000_000},
	} {
		p, err := LookupWith("tiny", o)
		if err == nil {
			t.Errorf("%+v: accepted (frames %d, %dx%d, %g s)", o, p.Frames, p.Width, p.Height, p.Seconds)
			continue
		}
		if msg := err.Error(); strings.Count(msg, "preset") != 1 || !strings.Contains(msg, `"tiny"`) {
			t.Errorf("%+v: error %q should name the preset once", o, msg)
		}
	}
	want, _ := Lookup("tiny")
	if p, err := LookupWith("tiny", Overrides{}); err != nil || p != want {
		t.Errorf("no override: %+v, %v", p, err)
	}
	if p, err := LookupWith("tiny", Overrides{Frames: 5, Size: 48, Seconds: 2}); err != nil || p.Frames != 5 || p.Width != 48 || p.TimeFrames != 200 {
		t.Errorf("valid overrides: %+v, %v", p, err)
	}
}
