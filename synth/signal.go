package synth

import (
	"math"
	"math/rand/v2"

	"github.com/avbalance/avbalance/ingest"
)

// renderer draws the raw signals of one clip. One per worker; its buffers are reused per clip.
type renderer struct {
	cfg   Config
	pcg   *rand.PCG
	rng   *rand.Rand
	audio []float32 // cfg.samples() mono samples in [-1,1]
	rgb   []byte    // cfg.frames() RGB24 frames of Height×Width×3, concatenated
	pix   []float32 // one frame as float RGB, scratch
}

func newRenderer(cfg Config) *renderer {
	pcg := rand.NewPCG(0, 0)
	return &renderer{
		cfg:   cfg,
		pcg:   pcg,
		rng:   rand.New(pcg),
		audio: make([]float32, cfg.samples()),
		rgb:   make([]byte, cfg.frames()*cfg.Height*cfg.Width*3),
		pix:   make([]float32, cfg.Height*cfg.Width*3),
	}
}

// streamClip is the PCG stream of clip signals; streamPlan that of labels and splits.
const (
	streamClip = 0x636c6970 // "clip"
	streamPlan = 0x706c616e // "plan"
)

// seedRNG makes a PCG state from the run seed, a stream constant and an index, so each clip's
// signals depend only on (Seed, clip index), never on worker scheduling.
func seedRNG(p *rand.PCG, seed ingest.Seed, stream, index uint64) {
	p.Seed(splitmix(uint64(seed)^stream), splitmix(index^stream<<1))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// render fills r.audio and r.rgb for clip index with class label.
// The audio is drawn before the video from the same stream, so both are fixed by (Seed, index).
func (r *renderer) render(index, label int) {
	seedRNG(r.pcg, r.cfg.Seed, streamClip, uint64(index))
	r.renderAudio(label)
	r.renderVideo(label)
}

// renderAudio writes a tone at class k's frequency (jittered in pitch, amplitude and phase, 10 ms
// fades) in white Gaussian noise at Cues.AudioSNRdB. Unless Cues.MemberTone is set, nothing in it
// depends on the pair member.
func (r *renderer) renderAudio(k int) {
	c, q, g := r.cfg, r.cfg.Cues, r.rng
	f := c.ClassToneHz(k) * (1 + q.ToneJitter*(2*g.Float64()-1))
	amp := q.ToneAmpMin + (q.ToneAmpMax-q.ToneAmpMin)*g.Float64()
	phase := 2 * math.Pi * g.Float64()
	noise := amp / math.Sqrt2 / math.Pow(10, q.AudioSNRdB/20)
	if amp == 0 {
		noise = 0.05
	}
	n := len(r.audio)
	fade := max(1, c.SampleRate/100)
	w := 2 * math.Pi * f / float64(c.SampleRate)
	for i := range r.audio {
		env := min(1, float64(i)/float64(fade), float64(n-1-i)/float64(fade))
		v := amp*env*math.Sin(w*float64(i)+phase) + noise*g.NormFloat64()
		r.audio[i] = float32(max(-1, min(1, v)))
	}
}

// mover is a shape that moves at constant velocity and bounces off the frame edges.
type mover struct {
	x, y, vx, vy, radius float64
}

func (m *mover) at(t, w, h float64) (x, y float64) {
	return bounce(m.x+m.vx*t, m.radius, w-m.radius), bounce(m.y+m.vy*t, m.radius, h-m.radius)
}

// bounce reflects v into [lo,hi] (a triangle wave); lo==hi pins it.
func bounce(v, lo, hi float64) float64 {
	span := hi - lo
	if span <= 0 {
		return (lo + hi) / 2
	}
	d := math.Mod(v-lo, 2*span)
	if d < 0 {
		d += 2 * span
	}
	if d > span {
		d = 2*span - d
	}
	return lo + d
}

func (r *renderer) newMover(radius float64) mover {
	c, g := r.cfg, r.rng
	w, h := float64(c.Width), float64(c.Height)
	speed := c.Cues.Drift * float64(min(c.Width, c.Height)) * g.Float64()
	dir := 2 * math.Pi * g.Float64()
	return mover{
		x:  radius + (w-2*radius)*g.Float64(),
		y:  radius + (h-2*radius)*g.Float64(),
		vx: speed * math.Cos(dir), vy: speed * math.Sin(dir), radius: radius,
	}
}

type distractor struct {
	mover
	square bool
	rgb    [3]float32
}

// renderVideo draws every frame: a random grey-ish background, Cues.Distractors opaque coloured
// discs or squares, a faint grating patch whose orientation is the class cue, and per-pixel
// luminance noise; everything moves slowly so any frame carries the cue.
func (r *renderer) renderVideo(label int) {
	c, q, g := r.cfg, r.cfg.Cues, r.rng
	W, H := c.Width, c.Height
	S := float64(min(W, H))
	var bg [3]float32
	for k := range bg {
		bg[k] = float32(0.4 + 0.2*g.Float64())
	}
	theta := (c.ClassOrientationDeg(label) + q.OrientJitter*(2*g.Float64()-1)) * math.Pi / 180
	// stripes run along theta, so the luminance varies along the normal (-sin, cos)
	nx, ny := -math.Sin(theta), math.Cos(theta)
	period := q.StripePeriod * S * (0.9 + 0.2*g.Float64())
	contrast := q.CueContrast * (0.8 + 0.4*g.Float64())
	gphase := 2 * math.Pi * g.Float64()
	patch := r.newMover(q.PatchSize * S / 2)
	ds := make([]distractor, q.Distractors)
	for k := range ds {
		rad := q.DistractorSize * S * (0.3 + 0.7*g.Float64())
		ds[k] = distractor{mover: r.newMover(rad), square: g.IntN(2) == 1}
		for ch := range ds[k].rgb {
			ds[k].rgb[ch] = g.Float32()
		}
	}
	frameLen := H * W * 3
	R, inner := patch.radius, 0.7*patch.radius
	for f := range c.frames() {
		t := float64(f) / float64(c.FPS)
		pix := r.pix
		for i := 0; i < len(pix); i += 3 {
			pix[i], pix[i+1], pix[i+2] = bg[0], bg[1], bg[2]
		}
		for k := range ds {
			d := &ds[k]
			dx, dy := d.at(t, float64(W), float64(H))
			x0, x1 := max(0, int(dx-d.radius)), min(W-1, int(dx+d.radius)+1)
			y0, y1 := max(0, int(dy-d.radius)), min(H-1, int(dy+d.radius)+1)
			for y := y0; y <= y1; y++ {
				for x := x0; x <= x1; x++ {
					ex, ey := float64(x)+0.5-dx, float64(y)+0.5-dy
					if d.square || ex*ex+ey*ey <= d.radius*d.radius {
						o := (y*W + x) * 3
						pix[o], pix[o+1], pix[o+2] = d.rgb[0], d.rgb[1], d.rgb[2]
					}
				}
			}
		}
		px, py := patch.at(t, float64(W), float64(H))
		out := r.rgb[f*frameLen : (f+1)*frameLen]
		for y := range H {
			for x := range W {
				ex, ey := float64(x)+0.5-px, float64(y)+0.5-py
				v := q.VideoNoise * g.NormFloat64()
				if d := math.Hypot(ex, ey); d < R {
					win := 1.0
					if d > inner {
						win = 0.5 + 0.5*math.Cos(math.Pi*(d-inner)/(R-inner))
					}
					v += contrast * win * math.Sin(2*math.Pi*(ex*nx+ey*ny)/period+gphase)
				}
				o := (y*W + x) * 3
				for ch := range 3 {
					out[o+ch] = toByte(float64(pix[o+ch]) + v)
				}
			}
		}
	}
}

func toByte(v float64) byte {
	return byte(max(0, min(255, math.Round(v*255))))
}
