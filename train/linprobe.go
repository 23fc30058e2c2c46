package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/avbalance/avbalance/attribution"
	"gonum.org/v1/gonum/optimize"
)

// LinearProbe is the field's test of whether an encoder learned its
// modality: a fresh linear classifier (multinomial logistic regression on
// standardised features, L2 weight 1e-3, fitted by L-BFGS) trained on the
// frozen encoder's train embeddings and scored on the test split.
type LinearProbe struct {
	Audio     *float64 `json:"audio_acc,omitempty"` // test accuracy on the audio encoder's embeddings
	Video     *float64 `json:"video_acc,omitempty"` // test accuracy on the video encoder's embeddings
	TrainRows int      `json:"train_rows"`          // train embeddings it was fitted on
}

// maxProbeRows bounds the train embeddings a probe is fitted on (evenly
// spaced rows of the train split when it has more).
const maxProbeRows = 20000

// linearProbeL2 is the weight of the probe's ½‖W‖² term beside the mean
// cross-entropy.
const linearProbeL2 = 1e-3

// embeddingSet holds one split's embeddings of one modality, row by row.
type embeddingSet struct {
	x      [][]float64
	labels []int
}

// fitLinearProbe fits the probe on train and returns its accuracy on test.
func fitLinearProbe(train, test embeddingSet, classes int) (float64, error) {
	if len(train.x) == 0 || len(test.x) == 0 {
		return 0, errors.New("linear probe: no train or no test embeddings")
	}
	d := len(train.x[0])
	mean, scale := make([]float64, d), make([]float64, d)
	for _, row := range train.x {
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(len(train.x))
	}
	for _, row := range train.x {
		for j, v := range row {
			scale[j] += (v - mean[j]) * (v - mean[j])
		}
	}
	for j := range scale {
		sd := math.Sqrt(scale[j] / float64(len(train.x)))
		scale[j] = 1 / math.Max(sd, 1e-8)
	}
	std := func(row, dst []float64) []float64 {
		for j, v := range row {
			dst[j] = (v - mean[j]) * scale[j]
		}
		return dst
	}
	xs := make([][]float64, len(train.x))
	for i, row := range train.x {
		xs[i] = std(row, make([]float64, d))
	}
	// Parameters: W [d,K] row-major, then b [K].
	n := float64(len(xs))
	logits := make([]float64, classes)
	loss := func(grad, w []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		total := 0.0
		for i, x := range xs {
			linearLogits(logits, w, x, classes)
			p := attribution.Softmax(logits)
			total -= math.Log(math.Max(p[train.labels[i]], 1e-300))
			if grad == nil {
				continue
			}
			p[train.labels[i]]--
			for j, xj := range x {
				g := grad[j*classes : (j+1)*classes]
				for k, pk := range p {
					g[k] += xj * pk / n
				}
			}
			gb := grad[d*classes:]
			for k, pk := range p {
				gb[k] += pk / n
			}
		}
		reg := 0.0
		for j, v := range w[:d*classes] {
			reg += v * v
			if grad != nil {
				grad[j] += linearProbeL2 * v
			}
		}
		return total/n + linearProbeL2*reg/2
	}
	p := optimize.Problem{
		Func: func(w []float64) float64 { return loss(nil, w) },
		Grad: func(grad, w []float64) { loss(grad, w) },
	}
	res, err := optimize.Minimize(p, make([]float64, (d+1)*classes),
		&optimize.Settings{MajorIterations: 300, GradientThreshold: 1e-6}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return 0, fmt.Errorf("linear probe: %w", err)
	}
	right := 0
	x := make([]float64, d)
	for i, row := range test.x {
		linearLogits(logits, res.X, std(row, x), classes)
		if argmax(logits) == test.labels[i] {
			right++
		}
	}
	return float64(right) / float64(len(test.x)), nil
}

// linearLogits writes x·W + b for the parameters w (W [d,K] then b [K]).
func linearLogits(dst, w, x []float64, classes int) {
	copy(dst, w[len(x)*classes:])
	for j, xj := range x {
		for k, v := range w[j*classes : (j+1)*classes] {
			dst[k] += xj * v
		}
	}
}

// probeSets collects a pass's embeddings of both modalities, keeping every
// stride-th row.
type probeSets struct {
	sets   [2]embeddingSet
	stride int
	seen   int
}

// newEmbeddingSets collects the embeddings of a pass over rows rows, at most
// limit of them (0: all), evenly spaced.
func (t *trainer) newEmbeddingSets(rows, limit int) *probeSets {
	stride := 1
	if limit > 0 && rows > limit {
		stride = (rows + limit - 1) / limit
	}
	return &probeSets{stride: stride}
}

func (p *probeSets) visit(_ string, label int, _ []float64, emb [2][]float64) {
	keep := p.seen%p.stride == 0
	p.seen++
	if !keep {
		return
	}
	for m, e := range emb {
		if e != nil {
			p.sets[m].x = append(p.sets[m].x, append([]float64(nil), e...))
			p.sets[m].labels = append(p.sets[m].labels, label)
		}
	}
}

// linearProbes fits a probe on every used encoder's train embeddings and
// scores it on the test ones (nil without both).
func (t *trainer) linearProbes(train, test *probeSets) (*LinearProbe, error) {
	out := &LinearProbe{}
	for m, acc := range []**float64{&out.Audio, &out.Video} {
		if len(train.sets[m].x) == 0 || len(test.sets[m].x) == 0 {
			continue
		}
		a, err := fitLinearProbe(train.sets[m], test.sets[m], t.m.spec.classes)
		if err != nil {
			return nil, err
		}
		*acc = &a
		out.TrainRows = len(train.sets[m].x)
	}
	if out.Audio == nil && out.Video == nil {
		return nil, nil
	}
	return out, nil
}
