package train

import (
	"context"
	"fmt"
	"math"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
)

// MethodIGInput is AttributeConfig.Method for Integrated Gradients on the
// raw inputs (the spectrogram and the normalised frames the network sees),
// first order only, through the whole network: f_c is the chosen class's
// logit, the path runs from the baseline to the clip with both modalities
// interpolated together (midpoint rule, Steps points), and a modality's
// share pools its input-level attributions (L2 or L1) as for the other
// methods. Baselines live in the network's input space: "zero" is an
// all-zero spectrogram and frames of the ImageNet mean colour (zero after
// normalisation), "mean" the split's mean input. Completeness (Σ
// attributions ≈ f_c(x) − f_c(baseline)) holds up to the quadrature error,
// which on these piecewise-linear networks falls to ~1% at 256 steps (see
// TestInputIGCompleteness); the report's summary.json gives the worst
// relative error over the clips as completeness_max_rel_error. The graph is
// built once with the gradient and re-run for every 8 path points (calling
// Grad again on one graph gives wrong results).
const MethodIGInput = "ig-input"

// InputAttribution is Integrated Gradients of one clip on the raw inputs.
type InputAttribution struct {
	Audio  []float64 // [F·T], nil for a video-only model
	Frames []float64 // [N·3·H·W] (the normalised frames' layout), nil for audio-only
	// FX and FBaseline are f_c at the clip and at the baseline; Sum is the
	// sum of all attributions, ≈ FX − FBaseline.
	FX, FBaseline, Sum float64
}

// CompletenessError is |Sum − (FX − FBaseline)| / max(|FX − FBaseline|, 1e-6).
func (a *InputAttribution) CompletenessError() float64 {
	d := a.FX - a.FBaseline
	return math.Abs(a.Sum-d) / math.Max(math.Abs(d), 1e-6)
}

// inputIG is a graph built once, with the gradient of Σ_rows f_c(row) with
// respect to the inputs, and run again for every chunk of path points. Its
// rows are independent (batch norms use their running statistics), so row
// r's input gradient is ∂f_c/∂x at row r's input.
type inputIG struct {
	n      *net
	sel    *G.Node // [rows,K] one-hot class per row
	logits G.Value
	grads  [2]G.Value // of the audio and frames inputs (nil if unused)
}

// newInputIG builds the graph for rows path points at a time. Build it after
// the model's weights are final; it copies the batch-norm statistics of the
// model's first graph before every run.
func newInputIG(m *model, rows int) (ig *inputIG, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: building the input-gradient graph: %v", r)
		}
	}()
	s := m.spec
	n := &net{m: m, g: G.NewGraph(), batch: rows, bnOps: map[string]*G.BatchNormOp{}, inputGrads: true, noParamGrads: true}
	b := &builder{n: n}
	b.encoders()
	logits, _ := b.head(n.emb)
	n.logits = logits
	ig = &inputIG{n: n}
	ig.sel = G.NewMatrix(n.g, s.dt, G.WithShape(rows, s.classes), G.WithName("class"))
	out := must(G.Sum(must(G.HadamardProd(ig.sel, logits))))
	var wrt G.Nodes
	for _, in := range []*G.Node{n.audio, n.frames} {
		if in != nil {
			wrt = append(wrt, in)
		}
	}
	gs, err := G.Grad(out, wrt...)
	if err != nil {
		return nil, fmt.Errorf("train: input gradients: %w", err)
	}
	// Read the values as they are computed: the tape machine may reuse a
	// node's register once nothing needs it.
	G.Read(logits, &ig.logits)
	k := 0
	for i, in := range []*G.Node{n.audio, n.frames} {
		if in != nil {
			G.Read(gs[k], &ig.grads[i])
			k++
		}
	}
	return ig, n.compile()
}

// run evaluates rows (audio [rows·F·T], frames [rows·N·3·H·W], in float64)
// for class c and returns the logits and input gradients as float64.
func (ig *inputIG) run(audio, frames []float64, c int) (logits []float64, grads [2][]float64, err error) {
	n := ig.n
	s := n.m.spec
	if err := n.syncBN(); err != nil {
		return nil, grads, err
	}
	if n.audio != nil {
		if err := G.Let(n.audio, n.dense(n.cast(audio), n.audio.Shape())); err != nil {
			return nil, grads, err
		}
	}
	if n.frames != nil {
		if err := G.Let(n.frames, n.dense(n.cast(frames), n.frames.Shape())); err != nil {
			return nil, grads, err
		}
	}
	sel := make([]float64, n.batch*s.classes)
	for r := 0; r < n.batch; r++ {
		sel[r*s.classes+c] = 1
	}
	if err := G.Let(ig.sel, n.dense(n.cast(sel), ig.sel.Shape())); err != nil {
		return nil, grads, err
	}
	if err := n.run(); err != nil {
		return nil, grads, err
	}
	for m, v := range ig.grads {
		if v != nil {
			grads[m] = op.Float64s(v)
		}
	}
	return op.Float64s(ig.logits), grads, nil
}

// clip runs Integrated Gradients of class c for one clip: x and base hold
// the audio [F·T] and frames [N·3·H·W] inputs of the clip and the baseline.
func (ig *inputIG) clip(x, base [2][]float64, c, steps int) (*InputAttribution, error) {
	if steps < 1 {
		return nil, fmt.Errorf("train: IG needs at least 1 step, got %d", steps)
	}
	n := ig.n
	rows := n.batch
	var size [2]int
	for m, in := range []*G.Node{n.audio, n.frames} {
		if in != nil {
			size[m] = in.Shape().TotalSize() / rows
			if len(x[m]) != size[m] || len(base[m]) != size[m] {
				return nil, fmt.Errorf("train: IG input %d has %d values (baseline %d), want %d", m, len(x[m]), len(base[m]), size[m])
			}
		}
	}
	// Path points: steps midpoints, then the clip and the baseline.
	total := steps + 2
	alpha := func(p int) float64 {
		switch p {
		case steps:
			return 1
		case steps + 1:
			return 0
		}
		return (float64(p) + 0.5) / float64(steps)
	}
	var sum [2][]float64
	var in [2][]float64
	for m := range size {
		sum[m] = make([]float64, size[m])
		in[m] = make([]float64, rows*size[m])
	}
	res := &InputAttribution{}
	k := n.m.spec.classes
	for lo := 0; lo < total; lo += rows {
		for r := 0; r < rows; r++ {
			a := alpha(min(lo+r, total-1)) // padding rows repeat the last point
			for m := range size {
				row := in[m][r*size[m] : (r+1)*size[m]]
				for i := range row {
					row[i] = base[m][i] + a*(x[m][i]-base[m][i])
				}
			}
		}
		logits, grads, err := ig.run(in[0], in[1], c)
		if err != nil {
			return nil, err
		}
		for r := 0; r < rows && lo+r < total; r++ {
			switch p := lo + r; {
			case p < steps:
				for m := range size {
					g := grads[m][r*size[m] : (r+1)*size[m]]
					for i, v := range g {
						sum[m][i] += v
					}
				}
			case p == steps:
				res.FX = logits[r*k+c]
			default:
				res.FBaseline = logits[r*k+c]
			}
		}
	}
	for m := range size {
		for i := range sum[m] {
			sum[m][i] *= (x[m][i] - base[m][i]) / float64(steps)
			res.Sum += sum[m][i]
		}
	}
	if size[0] > 0 {
		res.Audio = sum[0]
	}
	if size[1] > 0 {
		res.Frames = sum[1]
	}
	return res, nil
}

// igRows is how many path points one run of the input-gradient graph takes.
const igRows = 8

// attributeInputs is AttributeSource for MethodIGInput.
func attributeInputs(ctx context.Context, ac AttributeConfig, t *trainer, rows []int, norm attribution.Norm) ([]attribution.ClipShares, float64, error) {
	s := t.m.spec
	ig, err := newInputIG(t.m, min(igRows, ac.Steps+2))
	if err != nil {
		return nil, 0, err
	}
	var size [2]int
	if s.useAudio() {
		size[0] = prod(s.audioShape)
	}
	if s.useVideo() {
		size[1] = s.frameShape[0] * 3 * s.frameShape[1] * s.frameShape[2]
	}
	var base [2][]float64
	for m := range base {
		base[m] = make([]float64, size[m])
	}
	if ac.Baseline == "mean" {
		// The mean input of the split, element by element.
		count := 0
		if err := t.eachBatch(ctx, rows, func(b *batch) error {
			for i := 0; i < b.n; i++ {
				for m, d := range [2][]float32{b.audio, b.frames} {
					for j := range base[m] {
						base[m][j] += float64(d[i*size[m]+j])
					}
				}
			}
			count += b.n
			return nil
		}); err != nil {
			return nil, 0, err
		}
		for m := range base {
			for j := range base[m] {
				base[m][j] /= float64(count)
			}
		}
	}
	if err := t.en.syncBN(); err != nil {
		return nil, 0, err
	}
	var out []attribution.ClipShares
	worst := 0.0
	err = t.eachBatch(ctx, rows, func(b *batch) error {
		if err := t.en.feed(inputs{audio: b.audio, frames: b.frames, labels: b.labels, n: b.n}); err != nil {
			return err
		}
		if err := t.en.run(); err != nil {
			return err
		}
		logits := values64(t.en.logits)
		for i := 0; i < b.n; i++ {
			pred := argmax(logits[i*s.classes : (i+1)*s.classes])
			cls := b.labels[i]
			if ac.Class == ClassPredicted {
				cls = pred
			}
			var x [2][]float64
			for m, d := range [2][]float32{b.audio, b.frames} {
				x[m] = make([]float64, size[m])
				for j := range x[m] {
					x[m][j] = float64(d[i*size[m]+j])
				}
			}
			a, err := ig.clip(x, base, cls, ac.Steps)
			if err != nil {
				return fmt.Errorf("train: attribute %s: %w", b.ids[i], err)
			}
			worst = math.Max(worst, a.CompletenessError())
			pooled := attribution.Pool([2][]float64{a.Audio, a.Frames}, norm)
			out = append(out, attribution.ClipShares{ClipID: b.ids[i], Label: b.labels[i], Predicted: pred, Class: cls,
				Shares: attribution.Shares(pooled)})
		}
		return ctx.Err()
	})
	return out, worst, err
}

// eachBatch streams rows through the loader and calls f for every batch.
func (t *trainer) eachBatch(ctx context.Context, rows []int, f func(*batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	ch := t.ld.stream(ctx, rows)
	defer func() {
		cancel()
		for b := range ch {
			t.ld.release(b)
		}
	}()
	for b := range ch {
		err := b.err
		if err == nil {
			err = f(b)
		}
		t.ld.release(b)
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
