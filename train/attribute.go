package train

import (
	"context"
	"fmt"
	"io"

	"github.com/avbalance/avbalance/attribution"
)

// AttributeConfig describes an attribution report of a trained run.
type AttributeConfig struct {
	RunDir string // run directory (config.json, best.bin)
	Shards string // extraction folder
	Split  string // split to attribute, e.g. "test"
	Out    string // report folder (shares.csv, summary.json)
	// Method is "gradinput" (default), "ig" (Integrated Gradients on the
	// embeddings) or "ig-input" (Integrated Gradients on the raw inputs
	// through the whole network; see MethodIGInput).
	Method   string
	Steps    int    // IG steps (default 32)
	Baseline string // IG baseline: "zero" (default) or "mean" (mean embedding of the split)
	Norm     string // "l2" (default) or "l1"
	Class    string // "true" (default) or "predicted"
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
	return AttributeSource(ctx, ac, src)
}

// AttributeSource is Attribute over any Source.
func AttributeSource(ctx context.Context, ac AttributeConfig, src Source) (*attribution.Summary, error) {
	norm, err := attribution.ParseNorm(ac.Norm)
	if err != nil {
		return nil, err
	}
	if ac.Method == "" {
		ac.Method = "gradinput"
	}
	if ac.Method != "gradinput" && ac.Method != "ig" && ac.Method != MethodIGInput {
		return nil, fmt.Errorf("train: attribute: method %q: use gradinput, ig or %s", ac.Method, MethodIGInput)
	}
	if ac.Steps == 0 {
		ac.Steps = 32
	}
	if ac.Baseline == "" {
		ac.Baseline = "zero"
	}
	if ac.Baseline != "zero" && ac.Baseline != "mean" {
		return nil, fmt.Errorf("train: attribute: baseline %q: use zero or mean", ac.Baseline)
	}
	if ac.Class == "" {
		ac.Class = ClassTrue
	}
	if ac.Class != ClassTrue && ac.Class != ClassPredicted {
		return nil, fmt.Errorf("train: attribute: class %q: use true or predicted", ac.Class)
	}
	t, err := openRun(ac.RunDir, src, ac.Progress)
	if err != nil {
		return nil, err
	}
	if !t.m.spec.fusion() {
		return nil, fmt.Errorf("train: attribute: run %s is unimodal (%s); attribute a fusion run", ac.RunDir, t.m.spec.mode)
	}
	rows := t.splits[ac.Split]
	if len(rows) == 0 {
		return nil, fmt.Errorf("train: attribute: no rows with split %q (have %v)", ac.Split, splitNames(t.splits))
	}
	if ac.Method == MethodIGInput {
		out, worst, err := attributeInputs(ctx, ac, t, rows, norm)
		if err != nil {
			return nil, err
		}
		sum := attribution.Summarize(out, src.Labels(), ac.Method, norm)
		sum.Extra = map[string]any{"run": ac.RunDir, "split": ac.Split, "class": ac.Class, "baseline": ac.Baseline,
			"steps": ac.Steps, "completeness_max_rel_error": worst}
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
	_, err = t.forEach(ctx, rows, func(id string, label int, logits []float64, emb [2][]float64) {
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
		if ac.Baseline == "mean" {
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
		if ac.Method == "ig" {
			if a, err = attribution.HeadIG(head, c.emb, base, cls, ac.Steps); err != nil {
				return nil, err
			}
		} else {
			a = attribution.GradInput(head, c.emb, cls)
		}
		out = append(out, attribution.ClipShares{ClipID: c.id, Label: c.label, Predicted: c.pred, Class: cls,
			Shares: attribution.Shares(attribution.Pool(a, norm))})
	}
	sum := attribution.Summarize(out, src.Labels(), ac.Method, norm)
	sum.Extra = map[string]any{"run": ac.RunDir, "split": ac.Split, "class": ac.Class, "baseline": ac.Baseline, "steps": ac.Steps}
	if err := attribution.WriteReport(ac.Out, out, sum); err != nil {
		return nil, err
	}
	return &sum, nil
}
