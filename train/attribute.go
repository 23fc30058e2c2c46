package train

import (
	"context"
	"fmt"
	"io"

	"github.com/avbalance/avbalance/attribution"
)

// AttrMethod names how attribute computes a clip's attributions.
type AttrMethod string

// Attribution methods.
const (
	// AttrGradInput is Grad×Input on the embeddings: ∂f_c/∂e_m ⊙ e_m.
	AttrGradInput AttrMethod = "gradinput"
	// AttrIG is Integrated Gradients on the embeddings (the head alone).
	AttrIG AttrMethod = "ig"
	// AttrIGInput is Integrated Gradients on the raw inputs (the
	// spectrogram and the normalised frames the network sees), first order
	// only, through the whole network: f_c is the chosen class's logit, the
	// path runs from the baseline to the clip with both modalities
	// interpolated together (midpoint rule, Steps points), and a modality's
	// share pools its input-level attributions as for the other methods.
	// Baselines live in the network's input space: zero is an all-zero
	// spectrogram and frames of the ImageNet mean colour (zero after
	// normalisation), mean the split's mean input. Completeness (Σ
	// attributions ≈ f_c(x) − f_c(baseline)) holds up to the quadrature
	// error, which on these piecewise-linear networks falls to ~1% at 256
	// steps; summary.json gives the worst relative error over the clips as
	// completeness_max_rel_error. The graph is built once with the gradient
	// and re-run for every 8 path points (calling Grad again on one graph
	// gives wrong results).
	AttrIGInput AttrMethod = "ig-input"
)

// ParseAttrMethod maps "gradinput", "ig" or "ig-input" to an AttrMethod.
func ParseAttrMethod(s string) (AttrMethod, error) {
	return parseEnum("method", s, AttrGradInput, AttrIG, AttrIGInput)
}

func (m AttrMethod) String() string { return string(m) }

// Set implements flag.Value.
func (m *AttrMethod) Set(s string) (err error) { *m, err = ParseAttrMethod(s); return err }

// Baseline names the reference point of Integrated Gradients.
type Baseline string

// IG baselines.
const (
	BaselineZero Baseline = "zero" // the zero embedding (or input)
	BaselineMean Baseline = "mean" // the split's mean embedding (or input)
)

// ParseBaseline maps "zero" or "mean" to a Baseline.
func ParseBaseline(s string) (Baseline, error) {
	return parseEnum("baseline", s, BaselineZero, BaselineMean)
}

func (b Baseline) String() string { return string(b) }

// Set implements flag.Value.
func (b *Baseline) Set(s string) (err error) { *b, err = ParseBaseline(s); return err }

// AttributeConfig describes an attribution report of a trained run. Zero
// values are the defaults; the share definition (Method, Baseline, Steps,
// Quantity, Norm, Class) defaults to the run's own (its config.json), so a
// report reads the shares the run was trained and selected on.
type AttributeConfig struct {
	RunDir   string                // run directory (config.json, best.bin)
	Shards   string                // extraction folder
	Split    string                // split to attribute, e.g. "test"
	Out      string                // report folder (shares.csv, summary.json)
	Method   AttrMethod            // how to attribute; "": the run's
	Steps    int                   // IG steps; 0: the run's for its method, else 32
	Baseline Baseline              // IG baseline; "": the run's
	Quantity *attribution.Quantity // what is attributed; nil: the run's
	Norm     *attribution.Norm     // how attributions are pooled; nil: the run's
	Class    AttrClass             // the class attributed; "": the run's
	Progress io.Writer
}

// Attribute writes per-clip modality shares of a fusion run's best
// checkpoint and their summary; see attribution.WriteReport.
func Attribute(ctx context.Context, ac AttributeConfig) (*attribution.Summary, error) {
	src, err := OpenShards(ac.Shards)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return AttributeExamples(ctx, ac, src)
}

// AttributeExamples is Attribute over any Examples.
func AttributeExamples(ctx context.Context, ac AttributeConfig, src Examples) (*attribution.Summary, error) {
	if ac.Method != "" {
		if _, err := ParseAttrMethod(string(ac.Method)); err != nil {
			return nil, fmt.Errorf("train: attribute: %w", err)
		}
	}
	if ac.Baseline != "" {
		if _, err := ParseBaseline(string(ac.Baseline)); err != nil {
			return nil, fmt.Errorf("train: attribute: %w", err)
		}
	}
	if ac.Class != "" {
		if _, err := ParseAttrClass(string(ac.Class)); err != nil {
			return nil, fmt.Errorf("train: attribute: %w", err)
		}
	}
	t, err := openRun(ac.RunDir, src, ac.Progress)
	if err != nil {
		return nil, err
	}
	quantity, norm := t.cfg.AttrQuantity, t.cfg.AttrNorm
	if ac.Quantity != nil {
		quantity = *ac.Quantity
	}
	if ac.Norm != nil {
		norm = *ac.Norm
	}
	if ac.Class == "" {
		ac.Class = t.cfg.AttrClass
	}
	if ac.Method == "" {
		ac.Method = t.cfg.AttrMethod
	}
	if ac.Baseline == "" {
		ac.Baseline = t.cfg.AttrBaseline
	}
	if ac.Steps == 0 {
		ac.Steps = 32
		if ac.Method == AttrIG && t.cfg.AttrMethod == AttrIG {
			ac.Steps = t.cfg.AttrSteps
		}
	}
	if !t.m.spec.fusion() {
		return nil, fmt.Errorf("train: attribute: run %s is unimodal (%s); attribute a fusion run", ac.RunDir, t.m.spec.mode)
	}
	rows := t.splits[ac.Split]
	if len(rows) == 0 {
		return nil, configErrorf("train: attribute: no rows with split %q in these shards (they have %s)", ac.Split, splitCounts(t.splits))
	}
	if ac.Method == AttrIGInput {
		out, worst, err := attributeInputs(ctx, ac, t, rows, quantity, norm)
		if err != nil {
			return nil, err
		}
		sum := attribution.Summarize(out, src.Labels(), string(ac.Method), norm)
		sum.Extra = map[string]any{"run": ac.RunDir, "split": ac.Split, "class": ac.Class, "quantity": quantity,
			"baseline": ac.Baseline, "steps": ac.Steps, "completeness_max_rel_error": worst}
		if err := attribution.WriteReport(ac.Out, out, sum); err != nil {
			return nil, err
		}
		return &sum, nil
	}
	type clip struct {
		id          string
		label, pred int
		emb         [2][]float64
	}
	var clips []clip
	_, err = t.forEach(ctx, rows, &accum{s: &t.m.spec}, func(id string, label int, logits []float64, emb [2][]float64) {
		clips = append(clips, clip{id: id, label: label, pred: argmax(logits),
			emb: [2][]float64{append([]float64(nil), emb[0]...), append([]float64(nil), emb[1]...)}})
	})
	if err != nil {
		return nil, err
	}
	head := t.m.attrHead()
	var base [2][]float64
	for m := range base {
		base[m] = make([]float64, len(clips[0].emb[m]))
		if ac.Baseline == BaselineMean {
			for _, c := range clips {
				for i, v := range c.emb[m] {
					base[m][i] += v / float64(len(clips))
				}
			}
		}
	}
	out := make([]attribution.ClipShares, 0, len(clips))
	for _, c := range clips {
		cls := c.label
		if ac.Class == ClassPredicted {
			cls = c.pred
		}
		var a [2][]float64
		if ac.Method == AttrIG {
			if a, err = attribution.HeadIG(head, c.emb, base, quantity, cls, ac.Steps); err != nil {
				return nil, err
			}
		} else {
			a = attribution.GradInputOf(head, c.emb, quantity, cls)
		}
		out = append(out, attribution.ClipShares{ClipID: c.id, Label: c.label, Predicted: c.pred, Class: cls,
			Shares: attribution.Shares(attribution.Pool(a, norm))})
	}
	sum := attribution.Summarize(out, src.Labels(), string(ac.Method), norm)
	sum.Extra = map[string]any{"run": ac.RunDir, "split": ac.Split, "class": ac.Class, "quantity": quantity,
		"baseline": ac.Baseline, "steps": ac.Steps}
	if err := attribution.WriteReport(ac.Out, out, sum); err != nil {
		return nil, err
	}
	return &sum, nil
}
