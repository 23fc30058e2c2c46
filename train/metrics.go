package train

import (
	"math"
	"slices"
	"sort"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train/op"
)

// Metrics are one split's results after an epoch (or an evaluation).
//
// Shares are the run's shares on the embeddings (quantity, class, method,
// baseline and norm as configured; unimodal runs report 1 for their
// modality); Penalty is Σ_m |s_m − r_m| averaged uniformly over the clips.
// ProbeAudio and ProbeVideo are the accuracies of the head with the other
// modality's embedding set to zero; for unimodal runs they equal Accuracy
// for the used modality and 0 for the other. RealUse (val and test lines, eval) says how
// much the decision depends on each modality.
type Metrics struct {
	Epoch         int       `json:"epoch"`
	Split         string    `json:"split"`
	Clips         int       `json:"clips"`
	Loss          float64   `json:"loss"`
	CE            float64   `json:"ce"`
	Penalty       float64   `json:"penalty"`
	Accuracy      float64   `json:"accuracy"`
	MAP           float64   `json:"map"`
	MacroF1       float64   `json:"macro_f1"` // mean F1 over the classes that are true or predicted at least once (sklearn's macro average)
	AudioShare    float64   `json:"audio_share"`
	AudioShareStd float64   `json:"audio_share_std"`
	VideoShare    float64   `json:"video_share"`
	VideoShareStd float64   `json:"video_share_std"`
	ProbeAudio    float64   `json:"probe_audio_acc"`
	ProbeVideo    float64   `json:"probe_video_acc"`
	PerClass      []float64 `json:"per_class_acc"`
	Seconds       float64   `json:"seconds"`
	RealUse       *RealUse  `json:"real_use,omitempty"`
	// Extra holds a method's own figures (e.g. attr-reg's adaptive λ).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// RealUse measures how much the decision uses each modality by ablation:
// a modality's embedding is replaced by its mean over the train split, so
// the head gets no information from it but its usual level. v(S) is the
// accuracy with only the modalities in S kept: Accuracy = v({a,v}),
// AblateVideo = v({a}), AblateAudio = v({v}), AblateBoth = v(∅). The Shapley
// values are the exact two-player Shapley contributions to accuracy,
// ShapleyAudio = ½[(v({a}) − v(∅)) + (v({a,v}) − v({v}))], and sum to
// Accuracy − AblateBoth. For a unimodal model the unused modality's
// contribution is 0. The train mean is that of the embeddings the epoch's
// training pass produced for the per-epoch val lines, and that of the train
// split under the evaluated weights for result.json and eval.
type RealUse struct {
	AblateAudio  float64 `json:"ablate_audio_acc"` // accuracy with audio replaced by its train mean
	AblateVideo  float64 `json:"ablate_video_acc"` // accuracy with video replaced by its train mean
	AblateBoth   float64 `json:"ablate_both_acc"`  // both replaced: the constant prediction's accuracy
	ShapleyAudio float64 `json:"shapley_audio"`
	ShapleyVideo float64 `json:"shapley_video"`
}

func (m *Metrics) setExtra(name string, v float64) {
	if m.Extra == nil {
		m.Extra = map[string]float64{}
	}
	m.Extra[name] = v
}

// accum gathers per-sample results of a pass.
type accum struct {
	s       *spec
	labels  []int
	probs   [][]float64
	ce, pen float64
	shares  [2][]float64
	probe   [2]int
	correct int
	// mean, when set, is the train-mean embedding ablation replaces a
	// modality with; ablated counts the right answers with audio, video and
	// both replaced.
	mean    [2][]float64
	ablated [3]int
	// sum, when collecting (sumOn), adds up the embeddings of the pass.
	sumOn bool
	sum   [2][]float64
	// batchBaseline makes a mean IG baseline (spec.baseline) each batch's
	// mean embedding, as in attr-reg's penalty (a training pass, whose
	// weights change from batch to batch); otherwise it is the pass's mean,
	// and the shares wait in pending until metrics.
	batchBaseline bool
	pending       []pendingShare
	pendingHead   attribution.Head
}

// pendingShare is a sample whose shares need the pass's mean embedding.
type pendingShare struct {
	e   [2][]float64
	cls int
}

// add records the first n rows of a batch given its logits and embeddings
// (row-major [B,K] and [B,E]) and a float64 snapshot of the head.
func (a *accum) add(h attribution.Head, logits []float64, emb [2][]float64, labels []int, n int) {
	s := a.s
	k := s.classes
	var e, base [2][]float64
	mean := s.fusion() && s.baseline == BaselineMean
	if mean && a.batchBaseline {
		base = batchMean(emb, len(labels), n)
	}
	buf := make([]float64, k)
	for i := 0; i < n; i++ {
		y := labels[i]
		row := logits[i*k : (i+1)*k]
		p := attribution.Softmax(append([]float64(nil), row...))
		a.probs = append(a.probs, p)
		a.labels = append(a.labels, y)
		a.ce -= math.Log(math.Max(p[y], 1e-300))
		pred := argmax(p)
		if pred == y {
			a.correct++
		}
		for m := range e {
			if d := len(emb[m]) / len(labels); d > 0 {
				e[m] = emb[m][i*d : (i+1)*d]
			}
		}
		a.collect(e)
		a.ablate(h, e, y, buf)
		if !s.fusion() {
			m := 0
			if !s.useAudio() {
				m = 1
			}
			a.shares[m] = append(a.shares[m], 1)
			a.shares[1-m] = append(a.shares[1-m], 0)
			if pred == y {
				a.probe[m]++
			}
			continue
		}
		for m := range e {
			if argmax(attribution.Probe(buf, h, m, e[m])) == y {
				a.probe[m]++
			}
		}
		c := y
		if s.predicted {
			c = pred
		}
		if mean && !a.batchBaseline {
			a.pendingHead = h
			a.pending = append(a.pending, pendingShare{[2][]float64{slices.Clone(e[0]), slices.Clone(e[1])}, c})
			continue
		}
		a.addShares(h, e, base, c)
	}
}

// addShares records the shares of sample e for class c, attributed from
// base (nil: zero) under the run's share definition.
func (a *accum) addShares(h attribution.Head, e, base [2][]float64, c int) {
	s := a.s
	var attr [2][]float64
	if s.method == AttrIG {
		for m := range base {
			if base[m] == nil {
				base[m] = make([]float64, len(e[m]))
			}
		}
		var err error
		if attr, err = attribution.HeadIG(h, e, base, s.quantity, c, s.igSteps()); err != nil {
			panic(err) // Config.Validate asks for at least one step
		}
	} else {
		attr = attribution.GradInputOf(h, e, s.quantity, c)
	}
	sh := attribution.Shares(attribution.Pool(attr, s.norm))
	a.pen += attribution.Penalty(sh, s.target)
	a.shares[0] = append(a.shares[0], sh[0])
	a.shares[1] = append(a.shares[1], sh[1])
}

// addPending records the shares of the pending samples from their mean.
func (a *accum) addPending() {
	if len(a.pending) == 0 {
		return
	}
	var base [2][]float64
	for m := range base {
		base[m] = make([]float64, len(a.pending[0].e[m]))
		for _, p := range a.pending {
			for i, v := range p.e[m] {
				base[m][i] += v / float64(len(a.pending))
			}
		}
	}
	for _, p := range a.pending {
		a.addShares(a.pendingHead, p.e, base, p.cls)
	}
	a.pending = nil
}

// batchMean is the mean over the first n rows of each embedding [B,E].
func batchMean(emb [2][]float64, rows, n int) [2][]float64 {
	var out [2][]float64
	for m, x := range emb {
		d := len(x) / rows
		out[m] = make([]float64, d)
		for i := 0; i < n; i++ {
			for j, v := range x[i*d : (i+1)*d] {
				out[m][j] += v / float64(n)
			}
		}
	}
	return out
}

// collect adds one sample's embeddings to the pass's sums.
func (a *accum) collect(e [2][]float64) {
	if !a.sumOn {
		return
	}
	for m := range e {
		if a.sum[m] == nil {
			a.sum[m] = make([]float64, len(e[m]))
		}
		for i, v := range e[m] {
			a.sum[m][i] += v
		}
	}
}

// means returns the mean embeddings of the pass (sumOn).
func (a *accum) means() [2][]float64 {
	var out [2][]float64
	for m, s := range a.sum {
		out[m] = make([]float64, len(s))
		for i, v := range s {
			out[m][i] = v / float64(len(a.labels))
		}
	}
	return out
}

// ablate counts the sample as right or wrong with audio, video and both
// replaced by the train mean.
func (a *accum) ablate(h attribution.Head, e [2][]float64, y int, buf []float64) {
	if a.mean[0] == nil && a.mean[1] == nil {
		return
	}
	for k, keep := range [3][2]bool{{false, true}, {true, false}, {false, false}} {
		var in [2][]float64
		for m := range in {
			in[m] = e[m]
			if !keep[m] && e[m] != nil {
				in[m] = a.mean[m]
			}
		}
		if argmax(h.Logits(buf, in)) == y {
			a.ablated[k]++
		}
	}
}

func (a *accum) metrics(epoch int, split string, seconds float64) Metrics {
	a.addPending()
	n := len(a.labels)
	m := Metrics{Epoch: epoch, Split: split, Clips: n, Seconds: seconds}
	if n == 0 {
		return m
	}
	m.CE = a.ce / float64(n)
	m.Penalty = a.pen / float64(n)
	m.Loss = m.CE
	m.Accuracy = float64(a.correct) / float64(n)
	m.ProbeAudio = float64(a.probe[0]) / float64(n)
	m.ProbeVideo = float64(a.probe[1]) / float64(n)
	m.AudioShare, m.AudioShareStd = attribution.MeanStd(a.shares[0])
	m.VideoShare, m.VideoShareStd = attribution.MeanStd(a.shares[1])
	m.MAP = macroAP(a.probs, a.labels, a.s.classes)
	right := make([]int, a.s.classes)
	count := make([]int, a.s.classes)
	predicted := make([]int, a.s.classes)
	for i, y := range a.labels {
		count[y]++
		p := argmax(a.probs[i])
		predicted[p]++
		if p == y {
			right[y]++
		}
	}
	m.MacroF1 = macroF1(right, count, predicted)
	if a.mean[0] != nil || a.mean[1] != nil {
		v := func(k int) float64 { return float64(a.ablated[k]) / float64(n) }
		ru := &RealUse{AblateAudio: v(0), AblateVideo: v(1), AblateBoth: v(2)}
		ru.ShapleyAudio = ((ru.AblateVideo - ru.AblateBoth) + (m.Accuracy - ru.AblateAudio)) / 2
		ru.ShapleyVideo = ((ru.AblateAudio - ru.AblateBoth) + (m.Accuracy - ru.AblateVideo)) / 2
		m.RealUse = ru
	}
	m.PerClass = make([]float64, a.s.classes)
	for c := range count {
		if count[c] > 0 {
			m.PerClass[c] = float64(right[c]) / float64(count[c])
		}
	}
	return m
}

// macroF1 is the mean over classes that are true or predicted at least once
// of F1 = 2·TP / (2·TP + FP + FN), from the per-class right answers, true
// counts and predicted counts.
func macroF1(right, count, predicted []int) float64 {
	total, used := 0.0, 0
	for c := range count {
		if count[c]+predicted[c] == 0 {
			continue
		}
		total += 2 * float64(right[c]) / float64(count[c]+predicted[c])
		used++
	}
	if used == 0 {
		return 0
	}
	return total / float64(used)
}

// macroAP is the mean over classes with at least one positive of the
// one-vs-rest average precision (sklearn's definition: Σ_k P@k·rel_k / #pos,
// ties broken by sample order).
func macroAP(probs [][]float64, labels []int, classes int) float64 {
	idx := make([]int, len(labels))
	total, used := 0.0, 0
	for c := 0; c < classes; c++ {
		pos := 0
		for i := range idx {
			idx[i] = i
			if labels[i] == c {
				pos++
			}
		}
		if pos == 0 {
			continue
		}
		sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]][c] > probs[idx[b]][c] })
		hits, ap := 0, 0.0
		for k, i := range idx {
			if labels[i] == c {
				hits++
				ap += float64(hits) / float64(k+1)
			}
		}
		total += ap / float64(pos)
		used++
	}
	if used == 0 {
		return 0
	}
	return total / float64(used)
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// attrHead snapshots the model's head in float64; a unimodal model's is a
// linear head whose other modality has no dimensions.
func (m *model) attrHead() attribution.Head {
	if !m.spec.fusion() {
		u := m.spec.useAudio()
		w := [2][][]float64{{}, {}}
		w[btoi(!u)] = m.matrix("head.w")
		return &attribution.Linear{W: w, B: tensorValues(m.byName["head.b"])}
	}
	mat := m.matrix
	vec := func(name string) []float64 { return tensorValues(m.byName[name]) }
	switch m.spec.head {
	case HeadSum:
		return &attribution.Sum{W: [2][][]float64{mat("head.audio.w"), mat("head.video.w")},
			B: [2][]float64{vec("head.audio.b"), vec("head.video.b")}}
	case HeadMLP:
		return &attribution.MLP{W1: [2][][]float64{mat("head.audio.fc1.w"), mat("head.video.fc1.w")},
			B1: vec("head.fc1.b"), W2: mat("head.fc2.w"), B2: vec("head.fc2.b")}
	default:
		return &attribution.Linear{W: [2][][]float64{mat("head.audio.w"), mat("head.video.w")}, B: vec("head.b")}
	}
}

func tensorValues(p *param) []float64 { return op.Float64s(p.t) }

// matrix is a 2-D parameter in float64, row by row.
func (m *model) matrix(name string) [][]float64 {
	p := m.byName[name]
	s := p.t.Shape()
	v := tensorValues(p)
	out := make([][]float64, s[0])
	for i := range out {
		out[i] = v[i*s[1] : (i+1)*s[1]]
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
