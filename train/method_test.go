package train

import (
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/attribution"
)

// TestMethodRegistry checks every registered method: its hyperparameters'
// JSON names do not collide with Config's, its defaults validate, and a
// config.json round trip keeps them.
func TestMethodRegistry(t *testing.T) {
	base, err := json.Marshal(configFields(DefaultConfig()))
	if err != nil {
		t.Fatal(err)
	}
	var baseKeys map[string]any
	if err := json.Unmarshal(base, &baseKeys); err != nil {
		t.Fatal(err)
	}
	for _, info := range Methods() {
		mc := info.NewConfig()
		if err := mc.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", info.Mode, err)
		}
		b, _ := json.Marshal(mc)
		var own map[string]any
		if err := json.Unmarshal(b, &own); err != nil {
			t.Fatalf("%s: %v", info.Mode, err)
		}
		for k := range own {
			if _, dup := baseKeys[k]; dup {
				t.Errorf("%s: hyperparameter %q has the JSON name of a Config field", info.Mode, k)
			}
		}
		c, err := NewConfig(info.Mode)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range MethodFlags(c.Method) {
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			c.Method.Flags(fs)
			if err := c.SetParam(name, fs.Lookup(name).DefValue); err != nil {
				t.Errorf("%s: SetParam(%s): %v", info.Mode, name, err)
			}
		}
		b, err = json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", info.Mode, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("%s: config.json round trip:\n%s\n%s", info.Mode, b, b2)
		}
	}
}

func TestSetParamErrors(t *testing.T) {
	c, _ := NewConfig(ModeAttrReg)
	if err := c.SetParam("alpha", "1"); err == nil || !strings.Contains(err.Error(), "lambda") {
		t.Errorf("alpha on attr-reg: %v (want a refusal naming attr-reg's hyperparameters)", err)
	}
	if err := c.SetParam("lambda", "x"); err == nil {
		t.Error("lambda=x accepted")
	}
	c, _ = NewConfig(ModeConcat)
	if err := c.SetParam("lambda", "1"); err == nil || !strings.Contains(err.Error(), "no hyperparameters") {
		t.Errorf("lambda on concat: %v", err)
	}
}

// TestBindFlagsRefusesOtherMethodsFlags: --lambda with --mode ogm-ge is a
// mistake, not a silently ignored setting.
func TestBindFlagsRefusesOtherMethodsFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	finish := c.BindFlags(fs)
	if err := fs.Parse([]string{"--mode", "ogm-ge", "--lambda", "3", "--alpha", "0.3"}); err != nil {
		t.Fatal(err)
	}
	err := finish()
	if err == nil || !strings.Contains(err.Error(), "--lambda is a flag of attr-reg") {
		t.Errorf("finish: %v", err)
	}
	if oc, ok := c.Method.(*OGMGEConfig); !ok || oc.Alpha != 0.3 {
		t.Errorf("method config %#v, want ogm-ge with alpha 0.3", c.Method)
	}
}

// TestREADMEModeTable keeps the README's table of modes in step with the
// registry.
func TestREADMEModeTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, info := range Methods() {
		row := "| `" + string(info.Mode) + "` | " + strings.ReplaceAll(info.Summary, "|", `\|`) + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}

// TestLinearProbeSeparable: on linearly separable embeddings the probe is
// exact, on labels unrelated to the embeddings it is at chance.
func TestLinearProbeSeparable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	make3 := func(n int, informative bool) embeddingSet {
		var s embeddingSet
		for i := 0; i < n; i++ {
			y := i % 3
			x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), 5}
			if informative {
				x[y] += 4
			}
			s.x, s.labels = append(s.x, x), append(s.labels, y)
		}
		return s
	}
	acc, err := fitLinearProbe(make3(150, true), make3(60, true), 3)
	if err != nil || acc < 0.95 {
		t.Errorf("separable: accuracy %.3f, %v", acc, err)
	}
	acc, err = fitLinearProbe(make3(150, false), make3(300, false), 3)
	if err != nil || acc > 0.45 {
		t.Errorf("uninformative: accuracy %.3f (chance 1/3), %v", acc, err)
	}
}

// TestShareDefinitionValidation: a share definition that cannot be computed
// is refused with what to change.
func TestShareDefinitionValidation(t *testing.T) {
	for _, c := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.AttrMethod, c.AttrBaseline = AttrGradInput, BaselineMean }, "use --attr-method ig with --attr-baseline mean"},
		{func(c *Config) { c.AttrSteps = 0 }, "at least 1 step"},
		{func(c *Config) { c.AttrMethod = AttrIGInput }, "ig-input is attribute's only"},
	} {
		cfg, err := NewConfig(ModeAttrReg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Shards, cfg.Out = "shards", "out"
		c.set(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", err, c.want)
		}
	}
}

// TestTrainSharesUseBatchMean: with the mean baseline, a training pass's
// shares are taken from each batch's mean embedding (as attr-reg's penalty
// takes them) and an evaluation pass's from the pass's mean.
func TestTrainSharesUseBatchMean(t *testing.T) {
	s := &spec{uses: Both, head: HeadConcat, classes: 2, quantity: attribution.Centered, norm: attribution.Net,
		method: AttrIG, baseline: BaselineMean, steps: 8, target: Target{0.5, 0.5}}
	h := &attribution.Linear{W: [2][][]float64{{{1, -1}}, {{2, -2}}}, B: []float64{0, 0}}
	// Two batches of two rows; audio and video embeddings 1-wide.
	batches := [][2][]float64{{{1, 3}, {0, 2}}, {{5, 7}, {4, 4}}}
	labels := []int{0, 0}
	logits := func(e [2][]float64) []float64 {
		var out []float64
		for i := range labels {
			out = append(out, h.Logits(nil, [2][]float64{e[0][i : i+1], e[1][i : i+1]})...)
		}
		return out
	}
	train, eval := &accum{s: s, batchBaseline: true}, &accum{s: s}
	for _, e := range batches {
		train.add(h, logits(e), e, labels, 2)
		eval.add(h, logits(e), e, labels, 2)
	}
	// The centred logit of class 0 is e_a + 2·e_v; its net attribution from
	// a baseline b is (e_a − b_a) and 2(e_v − b_v), clipped at 0 (both 0:
	// equal shares).
	share := func(a, v, ba, bv float64) float64 {
		x, y := max(a-ba, 0), max(2*(v-bv), 0)
		if x+y == 0 {
			return 0.5
		}
		return y / (x + y)
	}
	wantTrain := (share(1, 0, 2, 1) + share(3, 2, 2, 1) + share(5, 4, 6, 4) + share(7, 4, 6, 4)) / 4
	wantEval := (share(1, 0, 4, 2.5) + share(3, 2, 4, 2.5) + share(5, 4, 4, 2.5) + share(7, 4, 4, 2.5)) / 4
	if got := train.metrics(0, "train", 0).VideoShare; math.Abs(got-wantTrain) > 1e-12 {
		t.Errorf("train pass video share %g, want %g (batch means)", got, wantTrain)
	}
	if got := eval.metrics(0, "val", 0).VideoShare; math.Abs(got-wantEval) > 1e-12 {
		t.Errorf("eval pass video share %g, want %g (the pass's mean)", got, wantEval)
	}
}

func TestShareDefinitionText(t *testing.T) {
	c := DefaultConfig()
	if got, want := c.ShareDefinition(), "Integrated Gradients from the mean embedding of the centered logit of the true class, pooled net"; got != want {
		t.Errorf("default: %q, want %q", got, want)
	}
	c.AttrMethod, c.AttrBaseline, c.AttrQuantity, c.AttrNorm = AttrGradInput, BaselineZero, attribution.Logit, attribution.L2
	if got, want := c.ShareDefinition(), "Grad×Input of the logit of the true class, pooled l2"; got != want {
		t.Errorf("the paper's: %q, want %q", got, want)
	}
}

// TestAttrRegEligibleRanks: attr-reg admits the epochs whose val shares
// are within the tolerance of the target and ranks those within half of it
// higher; the rule says so, except for an epoch it does not admit.
func TestAttrRegEligibleRanks(t *testing.T) {
	m := &attrReg{cfg: *defaultAttrReg(), target: Target{0.3, 0.7}}
	const admission = "val shares within 0.05 of the target audio=0.3,video=0.7"
	const ranked = admission + ", those within 0.025 winning over epochs up to 3 val clips more accurate"
	for _, c := range []struct {
		video float64
		rank  int
		rule  string
	}{
		{0.7, 2, ranked}, {0.68, 2, ranked}, {0.72, 2, ranked}, {0.66, 1, ranked}, {0.74, 1, ranked},
		{0.64, 0, admission}, {0.76, 0, admission},
	} {
		rank, rule := m.Eligible(Metrics{AudioShare: 1 - c.video, VideoShare: c.video})
		if rank != c.rank || rule != c.rule {
			t.Errorf("video share %g: rank %d, rule %q; want %d, %q", c.video, rank, rule, c.rank, c.rule)
		}
	}
}
