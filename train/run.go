package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/avbalance/avbalance/ingest"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Result is what result.json holds after a run.
type Result struct {
	RunDir    string   `json:"run_dir"`
	Epochs    int      `json:"epochs"`
	BestEpoch int      `json:"best_epoch"`
	Selection string   `json:"selection"` // how BestEpoch was chosen
	Val       *Metrics `json:"val,omitempty"`
	Test      *Metrics `json:"test,omitempty"`
}

// File names inside a run directory.
const (
	MetricsFile    = "metrics.jsonl"
	CheckpointFile = "checkpoint.bin"
	BestFile       = "best.bin"
	ResultFile     = "result.json"
)

// Run trains on the shards in cfg.Shards; see RunSource.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	src, err := OpenShards(cfg.Shards)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return RunSource(ctx, cfg, src)
}

// RunSource trains on src (cfg.Shards is only recorded). With cfg.Resume
// it continues from RUNDIR/checkpoint.bin using the saved configuration
// (Epochs, Workers, MaxSteps and Progress are taken from cfg) and ends with
// the same result as an uninterrupted run.
func RunSource(ctx context.Context, cfg Config, src Source) (*Result, error) {
	if cfg.Shards == "" {
		cfg.Shards = "(in memory)"
	}
	if cfg.Resume {
		saved, err := LoadConfig(cfg.Out)
		if err != nil {
			return nil, fmt.Errorf("train: resume: %w", err)
		}
		saved.Epochs, saved.Workers, saved.MaxSteps, saved.Progress = cfg.Epochs, cfg.Workers, cfg.MaxSteps, cfg.Progress
		saved.Out, saved.Resume = cfg.Out, true
		cfg = saved
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("train: run dir: %w", err)
	}
	t, err := newTrainer(&cfg, src, true)
	if err != nil {
		return nil, err
	}
	if len(t.splits[ingest.SplitTrain]) == 0 {
		return nil, fmt.Errorf("train: no rows with split %q in %s; re-extract with a train split", ingest.SplitTrain, cfg.Shards)
	}
	start := 0
	if cfg.Resume {
		if start, err = t.resume(); err != nil {
			return nil, err
		}
	} else if err := saveConfig(cfg.Out, cfg); err != nil {
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
	src       Source
	splits    map[string][]int
	m         *model
	tn, en    *net
	ld        *loader
	opt       *optimizer
	noiseSrc  *rand.PCG
	noise     *rand.Rand
	bestEpoch int
	bestScore float64
}

func newTrainer(cfg *Config, src Source, training bool) (*trainer, error) {
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
	t := &trainer{cfg: cfg, src: src, splits: splits, bestEpoch: -1}
	s := specFromConfig(cfg, classes, as, fs)
	t.m = newModel(s, cfg.Seed)
	if training {
		if t.tn, err = buildNet(t.m, cfg.Batch, true); err != nil {
			return nil, err
		}
		t.opt = newOptimizer(cfg, t.tn.used)
	}
	if t.en, err = buildNet(t.m, cfg.Batch, false); err != nil {
		return nil, err
	}
	t.ld = newLoader(src, cfg.Batch, cfg.Workers, s.useAudio(), s.useVideo())
	t.noiseSrc = rand.NewPCG(cfg.Seed, 0x9e)
	t.noise = rand.New(t.noiseSrc)
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
	if len(ck.OptFirst) != len(t.opt.first) {
		return 0, fmt.Errorf("train: resume: %s has optimizer state for %d tensors, want %d", path, len(ck.OptFirst), len(t.opt.first))
	}
	t.opt.steps, t.opt.first, t.opt.secnd = ck.OptSteps, ck.OptFirst, ck.OptSecond
	if err := t.noiseSrc.UnmarshalBinary(ck.RNG); err != nil {
		return 0, fmt.Errorf("train: resume: %s: rng state: %w", path, err)
	}
	t.bestEpoch, t.bestScore = ck.BestEpoch, ck.BestScore
	return ck.Epoch, truncateMetrics(filepath.Join(t.cfg.Out, MetricsFile), ck.Epoch)
}

// truncateMetrics drops lines of epochs ≥ from (written after the last checkpoint).
func truncateMetrics(path string, from int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		var m struct{ Epoch int }
		if line != "" && json.Unmarshal([]byte(line), &m) == nil && m.Epoch < from {
			keep = append(keep, line+"\n")
		}
	}
	return atomicfile.Write(path, []byte(strings.Join(keep, "")))
}

func (t *trainer) progress(format string, a ...any) {
	if t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, format, a...)
	}
}

// epoch trains one epoch, validates, logs and checkpoints.
func (t *trainer) epoch(ctx context.Context, epoch int) error {
	begin := time.Now()
	tm, err := t.trainPass(ctx, epoch)
	if err != nil {
		return err
	}
	tm.Seconds = time.Since(begin).Seconds()
	lines := []Metrics{tm}
	if rows := t.splits[ingest.SplitVal]; len(rows) > 0 {
		vm, err := t.evalPass(ctx, rows, epoch, ingest.SplitVal)
		if err != nil {
			return err
		}
		lines = append(lines, vm)
	}
	if err := appendMetrics(filepath.Join(t.cfg.Out, MetricsFile), lines); err != nil {
		return err
	}
	improved := false
	if len(lines) > 1 {
		if score := lines[1].Accuracy; t.bestEpoch < 0 || score > t.bestScore {
			t.bestEpoch, t.bestScore, improved = epoch, score, true
		}
	} else {
		t.bestEpoch, improved = epoch, true
	}
	ck, err := t.snapshot(epoch + 1)
	if err != nil {
		return err
	}
	if improved {
		if err := saveCheckpoint(filepath.Join(t.cfg.Out, BestFile), ck); err != nil {
			return err
		}
	}
	if err := saveCheckpoint(filepath.Join(t.cfg.Out, CheckpointFile), ck); err != nil {
		return err
	}
	msg := fmt.Sprintf("epoch %d/%d train loss %.4f acc %.3f", epoch+1, t.cfg.Epochs, tm.Loss, tm.Accuracy)
	if len(lines) > 1 {
		msg += fmt.Sprintf(" | val loss %.4f acc %.3f mAP %.3f audio share %.3f", lines[1].Loss, lines[1].Accuracy, lines[1].MAP, lines[1].AudioShare)
	}
	t.progress("%s (%.1fs)\n", msg, time.Since(begin).Seconds())
	return nil
}

func appendMetrics(path string, ms []Metrics) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: metrics: %w", err)
	}
	enc := json.NewEncoder(f)
	for i := range ms {
		if err = enc.Encode(&ms[i]); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("train: metrics %s: %w", path, err)
	}
	return nil
}

// trainPass runs the optimizer over the shuffled train split.
func (t *trainer) trainPass(ctx context.Context, epoch int) (Metrics, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows := shuffled(t.splits[ingest.SplitTrain], t.cfg.Seed, epoch)
	ch := t.ld.stream(ctx, rows)
	defer func() {
		cancel()
		for b := range ch {
			t.ld.release(b)
		}
	}()
	acc := &accum{s: &t.m.spec}
	s := &t.m.spec
	ogm := s.mode == ModeOGMGE && epoch >= t.cfg.OGMStart && (t.cfg.OGMEnd < 0 || epoch <= t.cfg.OGMEnd)
	grads := make([][]float32, len(t.tn.grads))
	steps := 0
	for b := range ch {
		if b.err != nil {
			err := b.err
			t.ld.release(b)
			return Metrics{}, err
		}
		if err := t.tn.feed(inputs{audio: b.audio, frames: b.frames, labels: b.labels, n: b.n}); err != nil {
			t.ld.release(b)
			return Metrics{}, err
		}
		if err := t.tn.run(); err != nil {
			t.ld.release(b)
			return Metrics{}, err
		}
		emb := [2][]float64{values64(t.tn.emb[0]), values64(t.tn.emb[1])}
		head := t.m.attrHead()
		acc.add(head, values64(t.tn.logits), emb, b.labels, b.n)
		for i, g := range t.tn.grads {
			grads[i] = g.Value().Data().([]float32)
		}
		if ogm {
			coeff := ogmCoefficients(head, emb, [2]int{s.embedDim(0), s.embedDim(1)}, b.labels, b.n, t.cfg.Alpha)
			for i, p := range t.tn.used {
				if p.group != groupHead {
					modulate(grads[i], coeff[p.group], t.cfg.GENoise, t.noise)
				}
			}
		}
		t.opt.step(t.tn.used, grads)
		t.ld.release(b)
		if err := ctx.Err(); err != nil {
			return Metrics{}, err
		}
		if steps++; t.cfg.MaxSteps > 0 && steps >= t.cfg.MaxSteps {
			break
		}
	}
	if err := ctx.Err(); err != nil && steps == 0 {
		return Metrics{}, err
	}
	return acc.metrics(epoch, ingest.SplitTrain, 0), nil
}

// embedDim is the embedding size of modality m.
func (s *spec) embedDim(int) int {
	if s.arch == ModelResNet18 {
		return 512
	}
	return s.embed
}

// syncBN copies the owning graph's batch-norm statistics into n's ops.
func (n *net) syncBN() error {
	for name, op := range n.bnOps {
		if src := n.m.bn[name]; src != op {
			mean, vr := src.Stats()
			if err := op.SetStats(mean, vr); err != nil {
				return err
			}
		}
	}
	return nil
}

// evalPass computes metrics of rows with the forward-only graph.
func (t *trainer) evalPass(ctx context.Context, rows []int, epoch int, split string) (Metrics, error) {
	begin := time.Now()
	m, err := t.forEach(ctx, rows, nil)
	m.Epoch, m.Split, m.Seconds = epoch, split, time.Since(begin).Seconds()
	return m, err
}

// forEach runs the eval graph over rows, accumulating metrics; visit (if
// not nil) sees every real row's clip id, label, logits and embeddings.
func (t *trainer) forEach(ctx context.Context, rows []int, visit func(id string, label int, logits []float64, emb [2][]float64)) (Metrics, error) {
	if err := t.en.syncBN(); err != nil {
		return Metrics{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := t.ld.stream(ctx, rows)
	defer func() {
		cancel()
		for b := range ch {
			t.ld.release(b)
		}
	}()
	acc := &accum{s: &t.m.spec}
	head := t.m.attrHead()
	k := t.m.spec.classes
	for b := range ch {
		err := b.err
		if err == nil {
			err = t.en.feed(inputs{audio: b.audio, frames: b.frames, labels: b.labels, n: b.n})
		}
		if err == nil {
			err = t.en.run()
		}
		if err != nil {
			t.ld.release(b)
			return Metrics{}, err
		}
		logits := values64(t.en.logits)
		emb := [2][]float64{values64(t.en.emb[0]), values64(t.en.emb[1])}
		acc.add(head, logits, emb, b.labels, b.n)
		if visit != nil {
			for i := 0; i < b.n; i++ {
				var e [2][]float64
				for m := range e {
					if d := len(emb[m]) / t.cfg.Batch; d > 0 {
						e[m] = emb[m][i*d : (i+1)*d]
					}
				}
				visit(b.ids[i], b.labels[i], logits[i*k:(i+1)*k], e)
			}
		}
		t.ld.release(b)
	}
	if err := ctx.Err(); err != nil {
		return Metrics{}, err
	}
	return acc.metrics(0, "", 0), nil
}

// finish evaluates best.bin on val and test and writes result.json.
func (t *trainer) finish(ctx context.Context) (*Result, error) {
	res := &Result{RunDir: t.cfg.Out, Epochs: t.cfg.Epochs, BestEpoch: t.bestEpoch,
		Selection: "highest val accuracy (earliest on ties)"}
	if len(t.splits[ingest.SplitVal]) == 0 {
		res.Selection = "last epoch (no val rows)"
	}
	path := filepath.Join(t.cfg.Out, BestFile)
	ck, err := loadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := t.m.restoreWeights(ck, path); err != nil {
		return nil, err
	}
	for _, split := range []string{ingest.SplitVal, ingest.SplitTest} {
		rows := t.splits[split]
		if len(rows) == 0 {
			continue
		}
		m, err := t.evalPass(ctx, rows, t.bestEpoch, split)
		if err != nil {
			return nil, err
		}
		if split == ingest.SplitVal {
			res.Val = &m
		} else {
			res.Test = &m
		}
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := atomicfile.Write(filepath.Join(t.cfg.Out, ResultFile), append(b, '\n')); err != nil {
		return nil, err
	}
	if res.Test != nil {
		t.progress("best epoch %d: test acc %.3f mAP %.3f audio share %.3f\n", res.BestEpoch+1, res.Test.Accuracy, res.Test.MAP, res.Test.AudioShare)
	}
	return res, nil
}

// openRun rebuilds a run's model from RUNDIR/config.json and best.bin
// (checkpoint.bin when there is no best.bin yet) for evaluation.
func openRun(runDir string, src Source, progress io.Writer) (*trainer, error) {
	cfg, err := LoadConfig(runDir)
	if err != nil {
		return nil, err
	}
	cfg.Out, cfg.Progress = runDir, progress
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
	return EvalSource(ctx, runDir, src, split)
}

// EvalSource is Eval over any Source.
func EvalSource(ctx context.Context, runDir string, src Source, split string) (*Metrics, error) {
	t, err := openRun(runDir, src, nil)
	if err != nil {
		return nil, err
	}
	rows := t.splits[split]
	if len(rows) == 0 {
		return nil, fmt.Errorf("train: eval: no rows with split %q (have %v)", split, splitNames(t.splits))
	}
	m, err := t.evalPass(ctx, rows, t.bestEpoch, split)
	return &m, err
}

func splitNames(s map[string][]int) []string {
	var out []string
	for k := range s {
		out = append(out, fmt.Sprintf("%q", k))
	}
	return out
}
