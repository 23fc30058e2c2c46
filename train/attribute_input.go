package train

import (
	"context"
	"fmt"
	"math"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
)

// inputIG is a graph built once, with the gradient of Σ_rows f_c(row) with
// respect to the inputs, and run again for every chunk of path points. Its
// rows are independent (batch norms use their running statistics), so row
// r's input gradient is ∂f_c/∂x at row r's input.
type inputIG struct {
	n      *net
	q      attribution.Quantity
	sel    *G.Node // [rows,K] one-hot class per row
	logits G.Value
	grads  [2]G.Value // of the audio and frames inputs (nil if unused)
}

// newInputIG builds the graph for rows path points at a time, for the
// attributed quantity q. Build it after
// the model's weights are final; it copies the batch-norm statistics of the
// model's first graph before every run.
func newInputIG(m *model, rows int, q attribution.Quantity) (ig *inputIG, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: building the input-gradient graph: %v", r)
		}
	}()
	s := m.spec
	n := &net{m: m, g: G.NewGraph(), batch: rows, bnOps: map[string]*G.BatchNormOp{}, inputGrads: true, noParamGrads: true}
	b := &builder{n: n}
	b.encoders()
	logits := b.head(n.emb)
	n.logits = logits
	ig = &inputIG{n: n, q: q}
	ig.sel = G.NewMatrix(n.g, s.dt, G.WithShape(rows, s.classes), G.WithName("class"))
	out := must(G.Sum(quantityValue(b, q, logits, ig.sel)))
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
// the audio [F·T] and frames [N·3·H·W] inputs of the clip and the baseline,
// and the attributions come back split the same way.
func (ig *inputIG) clip(x, base [2][]float64, c, steps int) ([2][]float64, *attribution.IGResult, error) {
	n := ig.n
	rows, k := n.batch, n.m.spec.classes
	var size [2]int
	for m, in := range []*G.Node{n.audio, n.frames} {
		if in != nil {
			size[m] = in.Shape().TotalSize() / rows
			if len(x[m]) != size[m] || len(base[m]) != size[m] {
				return [2][]float64{}, nil, fmt.Errorf("train: IG input %d has %d values (baseline %d), want %d", m, len(x[m]), len(base[m]), size[m])
			}
		}
	}
	in := [2][]float64{make([]float64, rows*size[0]), make([]float64, rows*size[1])}
	f := func(points, grads [][]float64, values []float64) error {
		for r := 0; r < rows; r++ {
			p := points[min(r, len(points)-1)] // padding rows repeat the last point
			copy(in[0][r*size[0]:], p[:size[0]])
			copy(in[1][r*size[1]:], p[size[0]:])
		}
		logits, g, err := ig.run(in[0], in[1], c)
		if err != nil {
			return err
		}
		for r := range points {
			values[r] = ig.q.Value(logits[r*k:(r+1)*k], c)
			copy(grads[r][:size[0]], g[0][r*size[0]:])
			copy(grads[r][size[0]:], g[1][r*size[1]:])
		}
		return nil
	}
	join := func(v [2][]float64) []float64 { return append(append([]float64(nil), v[0]...), v[1]...) }
	res, err := attribution.IntegratedGradientsBatch(f, join(x), join(base), steps, rows)
	if err != nil {
		return [2][]float64{}, nil, err
	}
	var a [2][]float64
	if size[0] > 0 {
		a[0] = res.Attr[:size[0]]
	}
	if size[1] > 0 {
		a[1] = res.Attr[size[0]:]
	}
	return a, res, nil
}

// igRows is how many path points one run of the input-gradient graph takes.
const igRows = 8

// attributeInputs is AttributeExamples for AttrIGInput.
func attributeInputs(ctx context.Context, ac AttributeConfig, t *trainer, rows []int, quantity attribution.Quantity, norm attribution.Norm) ([]attribution.ClipShares, float64, error) {
	s := t.m.spec
	ig, err := newInputIG(t.m, min(igRows, ac.Steps+2), quantity)
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
	if ac.Baseline == BaselineMean {
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
			a, res, err := ig.clip(x, base, cls, ac.Steps)
			if err != nil {
				return fmt.Errorf("train: attribute %s: %w", b.ids[i], err)
			}
			worst = math.Max(worst, res.CompletenessError())
			pooled := attribution.Pool(a, norm)
			out = append(out, attribution.ClipShares{ClipID: b.ids[i], Label: b.labels[i], Predicted: pred, Class: cls,
				Shares: attribution.Shares(pooled)})
		}
		return ctx.Err()
	})
	return out, worst, err
}
