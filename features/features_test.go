package features

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestPresetShapes(t *testing.T) {
	want := map[string][2][]int{
		"default":        {{128, 300}, {3, 224, 224, 3}},
		"tiny":           {{40, 100}, {3, 32, 32, 3}},
		"ogmge-cremad":   {{257, 188}, {1, 224, 224, 3}},
		"ogmge-vggsound": {{129, 626}, {3, 224, 224, 3}},
		"pmr-cremad":     {{257, 1004}, {3, 224, 224, 3}},
		"fbank128":       {{1024, 128}, {3, 224, 224, 3}},
	}
	if got := PresetNames(); len(got) != len(want) {
		t.Fatalf("PresetNames() = %v, want the %d presets %v", got, len(want), want)
	}
	for _, name := range PresetNames() {
		p, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(p.AudioShape(), want[name][0]) || !reflect.DeepEqual(p.FrameShape(), want[name][1]) {
			t.Errorf("%s: shapes %v %v, want %v %v", name, p.AudioShape(), p.FrameShape(), want[name][0], want[name][1])
		}
		b, _ := json.Marshal(p)
		var q Preset
		if err := json.Unmarshal(b, &q); err != nil || q != p {
			t.Errorf("%s: JSON round trip changed the preset: %s", name, b)
		}
	}
	p, _ := Lookup("ogmge-cremad")
	if p.FrameFPS != 1 || p.Frames != 1 {
		t.Errorf("ogmge-cremad frames %d at %g fps, want 1 at 1 fps", p.Frames, p.FrameFPS)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("Lookup(nope) error %v should list the known presets", err)
	}
}

func TestValidateSaysWhatToChange(t *testing.T) {
	p, _ := Lookup("default")
	p.Seconds = 5
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "set time_frames to 500") {
		t.Fatalf("Seconds=5 without TimeFrames: error %v", err)
	}
	if q := p.WithSeconds(5); q.TimeFrames != 500 || q.Validate() != nil {
		t.Errorf("WithSeconds(5): time_frames %d, Validate %v; want 500, nil", q.TimeFrames, q.Validate())
	}
	fb, _ := Lookup("fbank128")
	if q := fb.WithSeconds(5); q.TimeFrames != 498 || q.Seconds != 0 || q.Validate() != nil {
		t.Errorf("fbank128 WithSeconds(5): time_frames %d seconds %g, Validate %v", q.TimeFrames, q.Seconds, q.Validate())
	}
	for _, c := range []struct {
		edit func(*Preset)
		want string
	}{
		{func(p *Preset) { p.Frames = 0 }, "frames 0"},
		{func(p *Preset) { p.Width = 0 }, "frame size"},
		{func(p *Preset) { p.FrameFPS = -1 }, "frame_fps"},
		{func(p *Preset) { p.Window = "kaiser" }, "window \"kaiser\""},
		{func(p *Preset) { p.NMels = 0 }, "n_mels"},
		{func(p *Preset) { p.FMax = 9000 }, "f_max"},
		{func(p *Preset) { p.WinLength = 401 }, "win_length"},
		{func(p *Preset) { p.PadMode = "edge" }, "pad_mode"},
		{func(p *Preset) { p.Fit = "stretch" }, "fit \"stretch\""},
	} {
		q, _ := Lookup("default")
		c.edit(&q)
		if err := q.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want a message containing %q", err, c.want)
		}
		if _, err := NewExtractor(q).Audio([]float32{0, 1}, 0); err == nil {
			t.Errorf("Audio with an invalid preset (%s) succeeded", c.want)
		}
	}
}

func TestAudioRejectsBadInput(t *testing.T) {
	p, _ := Lookup("tiny")
	e := NewExtractor(p)
	if _, err := e.Audio(nil, 0); err == nil {
		t.Error("empty clip accepted")
	}
	if _, err := e.Audio([]float32{0, float32(math.NaN()), 0}, 0); err == nil || !strings.Contains(err.Error(), "sample 1") {
		t.Errorf("NaN sample: error %v", err)
	}
	fb, _ := Lookup("fbank128")
	if _, err := NewExtractor(fb).Audio(make([]float32, 399), 0); err == nil {
		t.Error("fbank128 accepted a clip shorter than one 400-sample frame")
	}
}

func TestRandomCropIsSeeded(t *testing.T) {
	p, _ := Lookup("ogmge-vggsound")
	e := NewExtractor(p)
	x := benchSignal(16000, 7)
	a, _ := e.Audio(x, 42)
	b, _ := e.Audio(x, 42)
	c, _ := e.Audio(x, 43)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different crops")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 42 and 43 gave the same crop")
	}
}

func TestTileCenterCropsLongClips(t *testing.T) {
	p, _ := Lookup("tiny")
	e := NewExtractor(p)
	x := benchSignal(16000, 2)
	long, _ := e.Audio(x, 0)
	mid, _ := e.Audio(x[8000:24000], 0) // the centred second
	if !reflect.DeepEqual(long, mid) {
		t.Error("a 2 s clip's feature differs from that of its centred 1 s")
	}
}

func TestAudioAllocatesOnlyItsResult(t *testing.T) {
	for _, name := range PresetNames() {
		p, _ := Lookup(name)
		e := NewExtractor(p)
		x := benchSignal(p.SampleRate, 2)
		if n := testing.AllocsPerRun(3, func() { _, _ = e.Audio(x, 1) }); n != 1 {
			t.Errorf("%s: %v allocations per Audio call, want 1", name, n)
		}
	}
}
