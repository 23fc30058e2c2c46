package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/avbalance/avbalance/ingest"
)

// Result is what result.json holds after a run.
type Result struct {
	RunDir    string `json:"run_dir"`
	Epochs    int    `json:"epochs"`
	BestEpoch int    `json:"best_epoch"`
	Selection string `json:"selection"` // how BestEpoch was chosen
	// Admitted says whether BestEpoch met the method's admission rule (see
	// Method.Eligible); absent for methods without one.
	Admitted *bool    `json:"admitted,omitempty"`
	Val      *Metrics `json:"val,omitempty"`
	Test     *Metrics `json:"test,omitempty"`
	// LinearProbe of each encoder of the chosen epoch (needs train and test rows).
	LinearProbe *LinearProbe `json:"linear_probe,omitempty"`
}

// Run trains on the shards in cfg.Shards; see RunExamples.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src, err := OpenShards(cfg.Shards)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return RunExamples(ctx, cfg, src)
}

// RunExamples trains on src (cfg.Shards is only recorded) into the new run
// folder cfg.Out; a folder that already holds a run is a ConfigError. With
// cfg.Resume it continues the run in cfg.Out from its last checkpoint (from
// the start when it stopped before the first one) and ends with the same
// result as an uninterrupted run: cfg must then be the run's configuration
// (LoadConfig, or ResumeConfig for flags) but for Epochs, Workers, MaxSteps,
// Shards and Progress, and src the data it was trained on.
func RunExamples(ctx context.Context, cfg Config, src Examples) (*Result, error) {
	if cfg.Shards == "" {
		cfg.Shards = "(in memory)"
	}
	data := identityOf(src)
	if cfg.Resume {
		saved, err := LoadConfig(cfg.Out)
		if err != nil {
			return nil, noRunToResume(cfg.Out, err)
		}
		if err := checkResume(saved, cfg); err != nil {
			return nil, err
		}
		if saved.TrainedOn != nil {
			if err := saved.TrainedOn.compatible(data, true); err != nil {
				return nil, configErrorf("resume %s on %s: %w", cfg.Out, cfg.Shards, err)
			}
		}
		cfg.Method = saved.Method
	} else if hasRun(cfg.Out) {
		return nil, configErrorf("%s already holds a run (%s): continue it with --resume, or give another --out", cfg.Out, ConfigFile)
	}
	cfg.TrainedOn = &data
	cfg = cfg.Clone()
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("train: run dir: %w", err)
	}
	t, err := newTrainer(&cfg, src, true)
	if err != nil {
		return nil, err
	}
	if err := t.method.Prepare(&Prep{ctx: ctx, t: t}); err != nil {
		return nil, fmt.Errorf("train: %s: %w", cfg.Mode, err)
	}
	start := 0
	if cfg.Resume && hasCheckpoint(cfg.Out) {
		if start, err = t.resume(); err != nil {
			return nil, err
		}
		if start > cfg.Epochs {
			return nil, configErrorf("resume %s: the run has done %d epochs, more than --epochs %d", cfg.Out, start, cfg.Epochs)
		}
	} else if err := truncateMetrics(filepath.Join(cfg.Out, MetricsFile), 0); err != nil {
		// A new run, or one stopped before its first checkpoint: from the start.
		return nil, err
	}
	// The data identity and, when resumed, the run's new length and paths.
	if err := saveConfig(cfg.Out, cfg); err != nil {
		return nil, err
	}
	for epoch := start; epoch < cfg.Epochs; epoch++ {
		if err := t.epoch(ctx, epoch); err != nil {
			return nil, err
		}
	}
	return t.finish(ctx)
}

// trainer holds one run's state.
type trainer struct {
	cfg       *Config
	src       Examples
	splits    map[string][]int
	m         *model
	method    Method
	tn, en    *net // training and evaluation graphs
	ld        *loader
	opt       *optimizer
	bestEpoch int
	best      valScore // bestEpoch's
	rule      string   // the method's admission rule, if any, as Eligible gave it for bestEpoch
	// trainMean is the train-mean embedding real use is measured with.
	trainMean [2][]float64
	batch     int // the graphs' batch size: cfg.Batch, or the largest split's when smaller
}

func newTrainer(cfg *Config, src Examples, training bool) (*trainer, error) {
	as, fs := src.AudioShape(), src.FrameShape()
	if len(as) != 2 || len(fs) != 4 || fs[3] != 3 {
		return nil, fmt.Errorf("train: shapes audio %v frames %v: want [F,T] and [N,H,W,3]", as, fs)
	}
	classes := len(src.Labels())
	if classes < 2 {
		return nil, fmt.Errorf("train: %d labels; need at least 2 classes", classes)
	}
	splits, err := splitIndex(src)
	if err != nil {
		return nil, err
	}
	if training && len(splits[ingest.SplitTrain]) == 0 {
		return nil, configErrorf("train: no rows with split %q in %s (it has %s); extract with a split (CREMA-D: --split speaker or lists; a manifest: a split column)",
			ingest.SplitTrain, cfg.Shards, splitCounts(splits))
	}
	info, err := LookupMethod(cfg.Mode)
	if err != nil {
		return nil, err
	}
	if cfg.Method == nil {
		cfg.Method = info.NewConfig()
	}
	t := &trainer{cfg: cfg, src: src, splits: splits, bestEpoch: -1, batch: cfg.Batch}
	// A batch larger than every split only adds padding rows (weight 0):
	// the graphs take the largest split's size instead.
	largest := 0
	for _, rows := range splits {
		largest = max(largest, len(rows))
	}
	if largest > 0 && t.batch > largest {
		t.batch = largest
		t.progress("batch %d is larger than any split (the largest has %d rows): batches of %d\n", cfg.Batch, largest, largest)
	}
	if t.method, err = info.New(cfg); err != nil {
		return nil, fmt.Errorf("train: %s: %w", cfg.Mode, err)
	}
	s := specFromConfig(cfg, info.Uses, classes, as, fs)
	t.m = newModel(s, cfg.Seed)
	if training {
		if t.tn, err = buildNet(t.m, t.batch, t.method, netOptions{}); err != nil {
			return nil, err
		}
		t.opt = newOptimizer(cfg, t.tn.used)
	}
	if t.en, err = buildNet(t.m, t.batch, nil, netOptions{}); err != nil {
		return nil, err
	}
	t.ld = newLoader(src, t.batch, cfg.Workers, s.useAudio(), s.useVideo())
	return t, nil
}

func (t *trainer) resume() (int, error) {
	path := filepath.Join(t.cfg.Out, CheckpointFile)
	ck, err := loadCheckpoint(path)
	if err != nil {
		return 0, fmt.Errorf("train: resume: %w", err)
	}
	if err := t.m.restoreWeights(ck, path); err != nil {
		return 0, err
	}
	if len(ck.OptFirst) != len(t.opt.first) || len(ck.OptSecond) != len(t.opt.first) {
		return 0, fmt.Errorf("train: resume: %s has optimizer state for %d and %d tensors, want %d",
			path, len(ck.OptFirst), len(ck.OptSecond), len(t.opt.first))
	}
	for i, p := range t.tn.used {
		if len(ck.OptFirst[i]) != p.t.Len() || len(ck.OptSecond[i]) != p.t.Len() {
			return 0, fmt.Errorf("train: resume: %s: the optimizer state of tensor %d (%s) has %d and %d values, want %d",
				path, i, p.name, len(ck.OptFirst[i]), len(ck.OptSecond[i]), p.t.Len())
		}
	}
	t.opt.steps, t.opt.first, t.opt.secnd = ck.OptSteps, ck.OptFirst, ck.OptSecond
	if err := t.method.SetState(ck.Method); err != nil {
		return 0, fmt.Errorf("train: resume: %s: %s state: %w", path, t.cfg.Mode, err)
	}
	t.bestEpoch, t.best, t.rule = ck.BestEpoch, valScore{ck.BestScore, ck.BestCE, ck.bestRank(), len(t.splits[ingest.SplitVal])}, ck.Rule
	return ck.Epoch, truncateMetrics(filepath.Join(t.cfg.Out, MetricsFile), ck.Epoch)
}

func (t *trainer) progress(format string, a ...any) {
	if t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, format, a...)
	}
}

// epoch trains one epoch, validates, logs and checkpoints.
func (t *trainer) epoch(ctx context.Context, epoch int) error {
	begin := time.Now()
	e := &Epoch{Index: epoch, Epochs: t.cfg.Epochs, Seed: t.cfg.Seed,
		TrainRows: len(t.splits[ingest.SplitTrain]), ctx: ctx, t: t}
	if err := t.method.StartEpoch(e); err != nil {
		return fmt.Errorf("train: %s: epoch %d: %w", t.cfg.Mode, epoch+1, err)
	}
	tm, err := t.trainPass(ctx, epoch)
	if err != nil {
		return err
	}
	tm.Seconds = time.Since(begin).Seconds()
	lines := []Metrics{tm}
	var val *Metrics
	if rows := t.splits[ingest.SplitVal]; len(rows) > 0 {
		vm, err := t.evalPass(ctx, rows, epoch, ingest.SplitVal)
		if err != nil {
			return err
		}
		lines = append(lines, vm)
		val = &lines[1]
	}
	if err := t.method.EndEpoch(e, tm, val); err != nil {
		return fmt.Errorf("train: %s: epoch %d: %w", t.cfg.Mode, epoch+1, err)
	}
	if err := appendMetrics(filepath.Join(t.cfg.Out, MetricsFile), lines); err != nil {
		return err
	}
	improved := false
	if val != nil {
		rank, rule := t.method.Eligible(*val)
		if s := (valScore{val.Accuracy, val.CE, rank, val.Clips}); t.bestEpoch < 0 || s.beats(t.best) {
			t.bestEpoch, t.best, t.rule, improved = epoch, s, rule, true
		}
	} else {
		t.bestEpoch, improved = epoch, true
	}
	ck, err := t.snapshot(epoch + 1)
	if err != nil {
		return err
	}
	paths := []string{filepath.Join(t.cfg.Out, CheckpointFile)}
	if improved {
		paths = []string{filepath.Join(t.cfg.Out, BestFile), paths[0]}
	}
	if err := saveCheckpoint(ck, paths...); err != nil {
		return err
	}
	msg := fmt.Sprintf("epoch %d/%d train loss %.4f acc %.3f", epoch+1, t.cfg.Epochs, tm.Loss, tm.Accuracy)
	if val != nil {
		msg += fmt.Sprintf(" | val loss %.4f acc %.3f mAP %.3f audio share %.3f", val.Loss, val.Accuracy, val.MAP, val.AudioShare)
	}
	t.progress("%s (%.1fs)\n", msg, time.Since(begin).Seconds())
	return nil
}

// valScore is what model selection compares epochs by.
type valScore struct {
	accuracy, ce float64 // on val
	rank         int     // by the method's admission rule (Method.Eligible); 0: not admitted
	clips        int     // in the val split
}

// RankCredit is what each rank above 1 of Method.Eligible is worth in
// model selection, in val clips: an epoch one rank higher wins over
// epochs up to 3 clips more accurate on val (3.5, so that a credited
// accuracy never ties with one of whole clips). A few clips is what
// separates the epochs of a plateau of accuracy, where a rank should
// decide, while an epoch much less accurate is not chosen for its rank;
// counted in clips, the credit shrinks as a larger val split makes
// accuracy, and the shares a rank is given for, more certain.
const RankCredit = 3.5

// credited is the val accuracy with the rank's credit.
func (s valScore) credited() float64 {
	if s.rank <= 1 || s.clips == 0 {
		return s.accuracy
	}
	return s.accuracy + RankCredit*float64(s.rank-1)/float64(s.clips)
}

// beats says whether an epoch scoring s is chosen over one scoring best:
// admitted epochs come first, then the higher val accuracy with the rank's
// credit, then the lower val cross-entropy (on a plateau of accuracy, the
// better fit, usually later in training, rather than the first epoch to
// reach it).
func (s valScore) beats(best valScore) bool {
	if (s.rank > 0) != (best.rank > 0) {
		return s.rank > 0
	}
	a, b := s.credited(), best.credited()
	return a > b || a == b && s.ce < best.ce
}

// onTies says how result.json's selection breaks ties (valScore.beats).
const onTies = " (lowest val cross-entropy on ties)"

// finish evaluates best.bin on val and test and writes result.json.
func (t *trainer) finish(ctx context.Context) (*Result, error) {
	res := &Result{RunDir: t.cfg.Out, Epochs: t.cfg.Epochs, BestEpoch: t.bestEpoch,
		Selection: "highest val accuracy" + onTies}
	switch {
	case len(t.splits[ingest.SplitVal]) == 0:
		res.Selection = "last epoch (no val rows)"
	case t.rule != "" && t.best.rank > 0:
		res.Selection = "highest val accuracy among the epochs with " + t.rule + onTies
	case t.rule != "":
		res.Selection = "highest val accuracy" + onTies + ": no epoch had " + t.rule
	}
	if t.rule != "" {
		admitted := t.best.rank > 0
		res.Admitted = &admitted
	}
	path := filepath.Join(t.cfg.Out, BestFile)
	ck, err := loadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := t.m.restoreWeights(ck, path); err != nil {
		return nil, err
	}
	// The method's state of that epoch, so the metrics report its figures.
	if err := t.method.SetState(ck.Method); err != nil {
		return nil, fmt.Errorf("train: %s: %s state: %w", path, t.cfg.Mode, err)
	}
	train := t.newEmbeddingSets(len(t.splits[ingest.SplitTrain]), maxProbeRows)
	if err := t.measureTrainMean(ctx, train.visit); err != nil {
		return nil, err
	}
	test := t.newEmbeddingSets(len(t.splits[ingest.SplitTest]), 0)
	for _, split := range []string{ingest.SplitVal, ingest.SplitTest} {
		rows := t.splits[split]
		if len(rows) == 0 {
			continue
		}
		var visit visitor
		if split == ingest.SplitTest {
			visit = test.visit
		}
		m, err := t.evalVisit(ctx, rows, t.bestEpoch, split, visit)
		if err != nil {
			return nil, err
		}
		if split == ingest.SplitVal {
			res.Val = &m
		} else {
			res.Test = &m
		}
	}
	if res.LinearProbe, err = t.linearProbes(train, test); err != nil {
		return nil, err
	}
	if err := writeResult(t.cfg.Out, res); err != nil {
		return nil, err
	}
	if res.Test != nil {
		t.progress("best epoch %d: test acc %.3f mAP %.3f audio share %.3f\n", res.BestEpoch+1, res.Test.Accuracy, res.Test.MAP, res.Test.AudioShare)
	}
	return res, nil
}

// openRun rebuilds a run's model from RUNDIR/config.json and best.bin
// (checkpoint.bin when there is no best.bin yet) for evaluation.
func openRun(runDir string, src Examples, progress io.Writer) (*trainer, error) {
	cfg, err := LoadConfig(runDir)
	if err != nil {
		return nil, err
	}
	cfg.Out, cfg.Progress = runDir, progress
	if cfg.TrainedOn != nil {
		if err := cfg.TrainedOn.compatible(identityOf(src), false); err != nil {
			return nil, configErrorf("run %s on these shards: %w", runDir, err)
		}
	}
	t, err := newTrainer(&cfg, src, false)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(runDir, BestFile)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(runDir, CheckpointFile)
	}
	ck, err := loadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	t.bestEpoch = ck.Epoch - 1
	if err := t.method.SetState(ck.Method); err != nil {
		return nil, fmt.Errorf("train: %s: %s state: %w", path, cfg.Mode, err)
	}
	return t, t.m.restoreWeights(ck, path)
}

// Eval computes the metrics of a run's best checkpoint on one split of the
// shards in shardsDir.
func Eval(ctx context.Context, runDir, shardsDir, split string) (*Metrics, error) {
	src, err := OpenShards(shardsDir)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return EvalExamples(ctx, runDir, src, split)
}

// EvalExamples is Eval over any Examples.
func EvalExamples(ctx context.Context, runDir string, src Examples, split string) (*Metrics, error) {
	t, err := openRun(runDir, src, nil)
	if err != nil {
		return nil, err
	}
	rows := t.splits[split]
	if len(rows) == 0 {
		return nil, configErrorf("train: eval: no rows with split %q in these shards (they have %s)", split, splitCounts(t.splits))
	}
	if err := t.measureTrainMean(ctx, nil); err != nil {
		return nil, err
	}
	m, err := t.evalPass(ctx, rows, t.bestEpoch, split)
	return &m, err
}

// splitCounts lists the splits and their rows, e.g. `"train" 336, "val" 72`.
func splitCounts(s map[string][]int) string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		out = append(out, fmt.Sprintf("%q %d", k, len(s[k])))
	}
	if len(out) == 0 {
		return "no rows"
	}
	return strings.Join(out, ", ")
}
