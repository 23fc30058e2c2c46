// Command attrmatrix is the measurement behind attr-reg's defaults: generated
// sets with different imbalance × seeds × target shares × penalty variants,
// each run next to naive fusion and the unimodal references on the same
// shards, and a markdown report of what each variant achieves.
//
//	go run ./bench/attrmatrix -out /tmp/attrmatrix -results bench/RESULTS-attr-reg.md
//
// Runs already finished in -out (a result.json) are read, not retrained, so
// an interrupted matrix continues where it stopped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/demo"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
	"github.com/avbalance/avbalance/synth"
	"github.com/avbalance/avbalance/train"
)

// set is a generated data set with a built-in imbalance.
type set struct {
	name, about string
	weak        int // the under-used modality: 0 audio, 1 video
	cues        func(*synth.Cues)
}

var sets = []set{
	{"audio-dominant", "the demo's set: audio tells the pair at once, video the whole class through a faint grating (video-only ≈ 0.96)", 1,
		func(*synth.Cues) {}},
	{"video-dominant", "video tells the whole class at once (a strong, clean grating), audio the whole class too (member b's tone is 1.25× its pair's) but through heavy noise (−15 dB), so it is learned later", 0,
		func(c *synth.Cues) {
			c.MemberTone, c.AudioSNRdB = 1.25, -15
			c.CueContrast, c.VideoNoise, c.Distractors = 0.5, 0.02, 0
		}},
	{"both-complete", "audio and video each tell the whole class alone (member b's tone is 1.25× its pair's), audio far faster to learn", 1,
		func(c *synth.Cues) { c.MemberTone = 1.25 }},
}

// variant is a way of training one fusion model.
type variant struct {
	name   string
	mode   train.Mode
	params map[string]string // method flags
	base   func(*train.Config)
}

// attr is an attr-reg variant; its penalty reaches only the head and is a
// uniform batch mean unless params say otherwise (the name says "enc" when
// it reaches the encoders, "weighted" when it is attribution-weighted).
func attr(name string, params map[string]string, base func(*train.Config)) variant {
	p := map[string]string{"penalty-to-encoders": "false", "penalty-weights": "uniform"}
	for k, v := range params {
		p[k] = v
	}
	return variant{name, train.ModeAttrReg, p, base}
}

// shares sets what the shares attribute and how they pool, with Grad×Input.
func shares(quantity, norm string) func(*train.Config) {
	return func(c *train.Config) {
		must(c.AttrQuantity.Set(quantity))
		must(c.AttrNorm.Set(norm))
		c.AttrMethod, c.AttrBaseline = train.AttrGradInput, train.BaselineZero
	}
}

// sharesIG is shares with Integrated Gradients from baseline.
func sharesIG(quantity, norm string, baseline train.Baseline) func(*train.Config) {
	return func(c *train.Config) {
		shares(quantity, norm)(c)
		c.AttrMethod, c.AttrBaseline = train.AttrIG, baseline
	}
}

var enc = map[string]string{"penalty-to-encoders": "true"}

// variants are the matrix's rows; screen are the further ones of the
// screening, run with -variants.
var variants = []variant{
	{"concat", train.ModeConcat, nil, nil},
	attr("logit-l2 λ1 fixed", map[string]string{"lambda-mode": "fixed", "lambda": "1"}, shares("logit", "l2")),
	attr("logit-l2 adaptive", nil, shares("logit", "l2")),
	attr("centered-l2 adaptive", nil, shares("centered", "l2")),
	attr("margin-net adaptive", nil, shares("margin", "net")),
	attr("centered-l2 adaptive enc", enc, shares("centered", "l2")),
	attr("centered-l2 adaptive ig-mean", nil, sharesIG("centered", "l2", train.BaselineMean)),
	attr("centered-net adaptive ig-mean", nil, sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc", enc, sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc weighted (defaults)", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution"},
		sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc weighted λmax20", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution",
		"lambda-max": "20"}, sharesIG("centered", "net", train.BaselineMean)),
}

var screen = []variant{
	attr("logit-l2 λ5 fixed", map[string]string{"lambda-mode": "fixed", "lambda": "5"}, shares("logit", "l2")),
	attr("logprob-l2 adaptive", nil, shares("logprob", "l2")),
	attr("margin-l2 adaptive", nil, shares("margin", "l2")),
	attr("centered-net adaptive", nil, shares("centered", "net")),
	attr("centered-net adaptive enc", enc, shares("centered", "net")),
	attr("logit-l2 adaptive enc", enc, shares("logit", "l2")),
	attr("centered-l2 adaptive ig-mean enc", enc, sharesIG("centered", "l2", train.BaselineMean)),
	attr("margin-net adaptive ig-mean enc", enc, sharesIG("margin", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-zero enc", enc, sharesIG("centered", "net", train.BaselineZero)),
	attr("centered-net adaptive ig-mean enc λmax3", map[string]string{"penalty-to-encoders": "true", "lambda-max": "3"},
		sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc λmax20", map[string]string{"penalty-to-encoders": "true", "lambda-max": "20"},
		sharesIG("centered", "net", train.BaselineMean)),
	attr("margin-net adaptive ig-mean enc weighted λmax20", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution",
		"lambda-max": "20"}, sharesIG("margin", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc weighted λmax50", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution",
		"lambda-max": "50"}, sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-mean enc weighted λmax20 rate0.1", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution",
		"lambda-max": "20", "lambda-rate": "0.1"}, sharesIG("centered", "net", train.BaselineMean)),
	attr("centered-net adaptive ig-zero enc weighted", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution"},
		sharesIG("centered", "net", train.BaselineZero)),
	attr("centered-net adaptive ig-mean enc weighted rate0.1", map[string]string{"penalty-to-encoders": "true", "penalty-weights": "attribution",
		"lambda-rate": "0.1"}, sharesIG("centered", "net", train.BaselineMean)),
}

// targets are the under-used modality's target shares (the other has the
// rest).
var targets = []float64{0.5, 0.7}

// targetFor is the target that gives the set's under-used modality share w.
func (s set) targetFor(w float64) train.Target {
	rest := math.Round((1-w)*1e9) / 1e9 // 0.3, not 0.30000000000000004
	if s.weak == 0 {
		return train.Target{w, rest}
	}
	return train.Target{rest, w}
}

func main() {
	out := flag.String("out", "/tmp/attrmatrix", "work folder (sets, shards, runs); finished runs are reused")
	results := flag.String("results", "", "write the markdown report here (default: stdout)")
	seeds := flag.Int("seeds", 3, "seeds per set")
	parallel := flag.Int("parallel", 2, "trainings at once")
	only := flag.String("variants", "", "comma-separated variant names to run (default: all)")
	setNames := flag.String("sets", "", "comma-separated set names (default: all)")
	targetList := flag.String("targets", "", "comma-separated target shares of each set's under-used modality, e.g. 0.5,0.7 (default: 0.5,0.7)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	vs := pick(append(variants, screen...), *only, func(v variant) string { return v.name })
	if *only == "" {
		vs = variants
	}
	ss := pick(sets, *setNames, func(s set) string { return s.name })
	ts := targets
	if *targetList != "" {
		ts = nil
		for _, f := range strings.Split(*targetList, ",") {
			var v float64
			if _, err := fmt.Sscan(f, &v); err != nil {
				log.Fatalf("target %q: %v", f, err)
			}
			ts = append(ts, v)
		}
	}
	m := &matrix{out: *out, sem: make(chan struct{}, *parallel), res: map[key]*train.Result{}, failed: map[key]error{}}
	begin := time.Now()
	for _, s := range ss {
		for seed := 1; seed <= *seeds; seed++ {
			if err := m.runSet(ctx, s, ingest.Seed(seed), vs, ts); err != nil {
				log.Fatal(err)
			}
		}
	}
	w := io.Writer(os.Stdout)
	var analysis []byte
	if *results != "" {
		analysis = keptAnalysis(*results)
		f, err := os.Create(*results)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		w = f
	}
	m.report(w, ss, vs, ts, *seeds, time.Since(begin))
	if _, err := w.Write(analysis); err != nil {
		log.Fatal(err)
	}
}

// analysisHeading starts the hand-written part of a results file, which a
// rerun keeps below the regenerated tables.
const analysisHeading = "\n## Analysis\n"

// keptAnalysis returns the hand-written part of the results file at path
// (from analysisHeading on), or nothing.
func keptAnalysis(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if i := strings.Index(string(b), analysisHeading); i >= 0 {
		return b[i:]
	}
	return nil
}

func pick[T any](all []T, names string, name func(T) string) []T {
	if names == "" {
		return all
	}
	var out []T
	for _, n := range strings.Split(names, ",") {
		found := false
		for _, x := range all {
			if name(x) == n {
				out, found = append(out, x), true
			}
		}
		if !found {
			log.Fatalf("unknown name %q", n)
		}
	}
	return out
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

type key struct {
	set     string
	seed    ingest.Seed
	variant string // or the unimodal mode
	target  float64
}

type matrix struct {
	out    string
	sem    chan struct{}
	mu     sync.Mutex
	res    map[key]*train.Result
	failed map[key]error // runs that stopped with an error (a diverged training)
	// trained and reused count this invocation's runs.
	trained, reused int
}

// runSet generates and extracts one set and seed, then trains the
// references and every variant at every target on it.
func (m *matrix) runSet(ctx context.Context, s set, seed ingest.Seed, vs []variant, ts []float64) error {
	dir := filepath.Join(m.out, fmt.Sprintf("%s-seed%d", s.name, seed))
	shards := filepath.Join(dir, "shards")
	dc := demo.DefaultConfig()
	if _, err := os.Stat(filepath.Join(shards, "index.json")); err != nil {
		sc := dc.Synth
		sc.Out, sc.Seed = filepath.Join(dir, "synth"), seed
		s.cues(&sc.Cues)
		res, err := synth.Generate(ctx, sc)
		if err != nil {
			return err
		}
		ds, err := ingest.ReadManifest(res.Manifest, ingest.ManifestOptions{Name: "synth", Labels: res.Labels})
		if err != nil {
			return err
		}
		p, err := features.LookupWith(dc.Preset, features.Overrides{Frames: dc.Frames, Size: dc.Size, Seconds: dc.Seconds})
		if err != nil {
			return err
		}
		if _, err := pipeline.Extract(ctx, pipeline.Config{Dataset: ds, Preset: p, Out: shards, Workers: 1, Seed: seed}); err != nil {
			return err
		}
	}
	src, err := train.OpenShards(shards)
	if err != nil {
		return err
	}
	defer src.Close()
	type job struct {
		k   key
		cfg train.Config
	}
	var jobs []job
	for _, mode := range []train.Mode{train.ModeAudio, train.ModeVideo} {
		c, _ := train.NewConfig(mode)
		base(&c, dc, seed)
		c.Epochs = 32
		c.Out = filepath.Join(dir, "runs", string(mode))
		jobs = append(jobs, job{key{s.name, seed, string(mode), 0}, c})
	}
	for _, v := range vs {
		for _, t := range ts {
			if v.mode == train.ModeConcat && t != ts[0] {
				continue // concat does not depend on the target
			}
			c, err := train.NewConfig(v.mode)
			if err != nil {
				return err
			}
			base(&c, dc, seed)
			c.Target = s.targetFor(t)
			if v.base != nil {
				v.base(&c)
			}
			for k, val := range v.params {
				if err := c.SetParam(k, val); err != nil {
					return err
				}
			}
			c.Out = filepath.Join(dir, "runs", fmt.Sprintf("%s-t%.2f", strings.ReplaceAll(v.name, " ", "_"), t))
			jobs = append(jobs, job{key{s.name, seed, v.name, t}, c})
		}
	}
	var wg sync.WaitGroup
	var firstErr error
	for _, j := range jobs {
		if res, err := train.ReadResult(j.cfg.Out); err == nil && sameConfig(j.cfg) {
			m.put(j.k, res)
			m.reused++
			continue
		}
		wg.Add(1)
		m.sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-m.sem }()
			os.RemoveAll(j.cfg.Out)
			t0 := time.Now()
			res, err := train.RunExamples(ctx, j.cfg, src)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.trained++
			switch {
			case errors.Is(err, train.ErrDiverged):
				m.failed[j.k] = err // a result of the variant, reported
				fmt.Fprintf(os.Stderr, "%-15s seed %d %-32s target %.2f: %v\n", j.k.set, j.k.seed, j.k.variant, j.k.target, err)
				return
			case err != nil:
				if firstErr == nil {
					firstErr = fmt.Errorf("%v: %w", j.k, err)
				}
				return
			}
			m.res[j.k] = res
			fmt.Fprintf(os.Stderr, "%-15s seed %d %-32s target %.2f: test acc %.3f video share %.2f (%.0fs)\n",
				j.k.set, j.k.seed, j.k.variant, j.k.target, res.Test.Accuracy, res.Test.VideoShare, time.Since(t0).Seconds())
		}()
	}
	wg.Wait()
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		return firstErr
	}
	return ctx.Err()
}

// sameConfig reports whether the run folder of c was trained with c (all
// but the paths and the recorded data).
func sameConfig(c train.Config) bool {
	saved, err := train.LoadConfig(c.Out)
	if err != nil {
		return false
	}
	strip := func(c train.Config) string {
		c.Out, c.Shards, c.TrainedOn, c.Workers = "", "", nil, 0
		b, _ := json.Marshal(c)
		return string(b)
	}
	return strip(saved) == strip(c)
}

// base sets the demo's training recipe.
func base(c *train.Config, dc demo.Config, seed ingest.Seed) {
	t := dc.Train
	c.Model, c.Head, c.Embed, c.Epochs, c.Batch = t.Model, t.Head, t.Embed, t.Epochs, t.Batch
	c.LR, c.Optimizer, c.Momentum, c.WeightDecay, c.Workers = t.LR, t.Optimizer, t.Momentum, t.WeightDecay, 1
	c.Seed = seed
}

func (m *matrix) put(k key, r *train.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.res[k] = r
}

// raisedBy is how far above concat's a variant's probe of the under-used
// modality must be on a seed to count as raised.
const raisedBy = 0.10

// figures are the numbers of one run the report shows.
type figures struct {
	acc, share, probe, gain, shapley, linprobe float64
	admitted                                   bool
	lambda                                     float64
}

// metTarget says whether a run's test share of the under-used modality
// ends within 0.05 of its target t.
func metTarget(f figures, t float64) bool { return math.Abs(f.share-t) <= 0.05 }

// raisedProbe says whether a run's probe of the under-used modality is at
// least raisedBy above concat's (c) on the same seed.
func raisedProbe(f, c figures) bool { return f.probe >= c.probe+raisedBy }

func figuresOf(r *train.Result, weak int) figures {
	t := r.Test
	f := figures{acc: t.Accuracy, share: t.VideoShare, probe: t.ProbeVideo, lambda: math.NaN()}
	if weak == 0 {
		f.share, f.probe = t.AudioShare, t.ProbeAudio
	}
	if ru := t.RealUse; ru != nil {
		f.gain, f.shapley = t.Accuracy-ru.AblateVideo, ru.ShapleyVideo
		if weak == 0 {
			f.gain, f.shapley = t.Accuracy-ru.AblateAudio, ru.ShapleyAudio
		}
	}
	if lp := r.LinearProbe; lp != nil {
		if p := [2]*float64{lp.Audio, lp.Video}[weak]; p != nil {
			f.linprobe = *p
		}
	}
	f.admitted = r.Admitted != nil && *r.Admitted
	if l, ok := t.Extra["lambda"]; ok {
		f.lambda = l
	}
	return f
}

func (m *matrix) report(w io.Writer, ss []set, vs []variant, ts []float64, seeds int, took time.Duration) {
	fmt.Fprintf(w, "# attr-reg variants: shares, real use and accuracy on generated sets\n\n")
	fmt.Fprintf(w, "Regenerate: `go run ./bench/attrmatrix -out /tmp/attrmatrix -results bench/RESULTS-attr-reg.md` "+
		"(%d seeds; this time %d runs trained in %s, %d finished ones reused). Every run uses the demo's recipe (480 clips, tiny preset, 32×32 frames, small encoders "+
		"embedding 64, SGD lr 0.01 momentum 0.9, batch 32, 16 epochs for fusion and 32 for the unimodal references); "+
		"test split at the epoch chosen on val. Columns are of the set's under-used modality: its test share, the fusion "+
		"model's probe (its part of the head alone), its ablation gain (test accuracy minus accuracy with it replaced by "+
		"its train-mean embedding), its Shapley contribution to accuracy and the linear probe of its frozen encoder; "+
		"mean ± std over seeds. *met* counts the seeds whose test share is within 0.05 of the target, *raised* those "+
		"whose probe is at least %.2f above concat's on the same seed. Each run's shares are its own share definition "+
		"(the variant's; concat's are the defaults').\n\n", seeds, m.trained, took.Round(time.Second), m.reused, raisedBy)
	m.summary(w, ss, vs, ts, seeds)
	for _, s := range ss {
		weakName := [2]string{"audio", "video"}[s.weak]
		fmt.Fprintf(w, "## %s\n\n%s. Under-used modality: %s.\n\n", s.name, s.about, weakName)
		ref := func(mode train.Mode) compare.Stat {
			var v []float64
			for seed := ingest.Seed(1); seed <= ingest.Seed(seeds); seed++ {
				if r := m.res[key{s.name, seed, string(mode), 0}]; r != nil {
					v = append(v, r.Test.Accuracy)
				}
			}
			return compare.NewStat(v)
		}
		fmt.Fprintf(w, "References: audio-only test acc %s, video-only %s.\n\n", ref(train.ModeAudio), ref(train.ModeVideo))
		for _, t := range ts {
			tt := s.targetFor(t)
			fmt.Fprintf(w, "### target audio %.1f / video %.1f\n\n", tt[0], tt[1])
			fmt.Fprintf(w, "| variant | test acc | %s share | met | %s probe | raised | ablation gain | Shapley | linear probe | λ at the end |\n", weakName, weakName)
			fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|\n")
			for _, v := range vs {
				tv := t
				if v.mode == train.ModeConcat {
					tv = ts[0]
				}
				var fs []figures
				met, raised := 0, 0
				for seed := ingest.Seed(1); seed <= ingest.Seed(seeds); seed++ {
					r := m.res[key{s.name, seed, v.name, tv}]
					if r == nil || r.Test == nil {
						continue
					}
					f := figuresOf(r, s.weak)
					fs = append(fs, f)
					if metTarget(f, t) {
						met++
					}
					if c := m.res[key{s.name, seed, "concat", ts[0]}]; c != nil && c.Test != nil && raisedProbe(f, figuresOf(c, s.weak)) {
						raised++
					}
				}
				col := func(f func(figures) float64) compare.Stat {
					var vals []float64
					for _, x := range fs {
						vals = append(vals, f(x))
					}
					return compare.NewStat(vals)
				}
				lam := col(func(f figures) float64 { return f.lambda })
				lamText := "–"
				if lam.N > 0 && !math.IsNaN(lam.Mean) {
					lamText = fmt.Sprintf("%.2g", lam.Mean)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %d/%d | %s | %d/%d | %s | %s | %s | %s |\n", v.name,
					col(func(f figures) float64 { return f.acc }), col(func(f figures) float64 { return f.share }), met, len(fs),
					col(func(f figures) float64 { return f.probe }), raised, len(fs), col(func(f figures) float64 { return f.gain }),
					col(func(f figures) float64 { return f.shapley }), col(func(f figures) float64 { return f.linprobe }), lamText)
			}
			fmt.Fprintln(w)
		}
	}
}

// summary writes, for each attr-reg variant, on how many set × target ×
// seed runs it meets each criterion of the defaults: the share within 0.05
// of the target, the under-used modality's probe raised by raisedBy above
// concat's on the same seed (and at all above it), both together, and test
// accuracy at least concat's.
func (m *matrix) summary(w io.Writer, ss []set, vs []variant, ts []float64, seeds int) {
	fmt.Fprintf(w, "## Summary\n\nRuns of each variant (sets × targets × seeds) meeting each criterion.\n\n")
	fmt.Fprintf(w, "| variant | share within 0.05 | probe ≥ concat's + %.2f | both | probe above concat's | test acc ≥ concat's | diverged |\n", raisedBy)
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	for _, v := range vs {
		if v.mode == train.ModeConcat {
			continue
		}
		var runs, met, raised, both, above, acc, diverged int
		for _, s := range ss {
			for _, t := range ts {
				for seed := ingest.Seed(1); seed <= ingest.Seed(seeds); seed++ {
					k := key{s.name, seed, v.name, t}
					c := m.res[key{s.name, seed, "concat", ts[0]}]
					if c == nil || c.Test == nil {
						continue
					}
					if m.failed[k] != nil {
						runs++
						diverged++
						continue
					}
					r := m.res[k]
					if r == nil || r.Test == nil {
						continue
					}
					runs++
					f, cf := figuresOf(r, s.weak), figuresOf(c, s.weak)
					okShare, okProbe := metTarget(f, t), raisedProbe(f, cf)
					met, raised, above = met+b2i(okShare), raised+b2i(okProbe), above+b2i(f.probe > cf.probe)
					both, acc = both+b2i(okShare && okProbe), acc+b2i(f.acc >= cf.acc)
				}
			}
		}
		fmt.Fprintf(w, "| %s | %d/%d | %d/%d | %d/%d | %d/%d | %d/%d | %d |\n", v.name, met, runs, raised, runs, both, runs, above, runs, acc, runs, diverged)
	}
	fmt.Fprintln(w)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
