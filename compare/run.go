package compare

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train"
)

// File and folder names inside Config.Out.
const (
	TableFile   = "table.md"
	CSVFile     = "table.csv"
	ResultsFile = "results.json"
	ReportFile  = "report.html"
	PlotsDir    = "plots"
	RunsDir     = "runs"
	// AttributionDir is the per-clip test attribution of a fusion run,
	// inside its run folder (shares.csv, summary.json).
	AttributionDir = "attribution-test"
)

// ConfigError is a problem the user must fix before a comparison can run:
// a bad setting, shards the protocol refuses, or run folders holding other
// runs. The CLI exits with 2 for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the problem.
func (e *ConfigError) Unwrap() error { return e.Err }

// Report is the outcome of a comparison, saved as results.json.
type Report struct {
	Config   Config       `json:"config"`
	Protocol *Protocol    `json:"protocol"`
	Runs     []*RunResult `json:"runs"`    // seed by seed, methods in Config order
	Rows     []Row        `json:"rows"`    // one per method: mean ± std over seeds
	Checks   []Check      `json:"checks"`  // Config.Checks' verdicts
	Trained  int          `json:"trained"` // runs this call trained or continued
	Reused   int          `json:"reused"`  // runs this call found complete
	Elapsed  float64      `json:"elapsed_s"`
	CPU      float64      `json:"cpu_s"` // this process's user+system CPU seconds during the call
	Plots    []string     `json:"plots"` // PNG files, relative to Out
}

// RunResult is one method × seed run: the test metrics of its selected
// epoch and everything needed to repeat it.
type RunResult struct {
	Method train.Mode  `json:"method"`
	Seed   ingest.Seed `json:"seed"`
	Dir    string      `json:"dir"`
	// Config is the run's exact training configuration (its config.json);
	// TrainArgs repeats the run as `avbalance train` flags.
	Config      train.Config       `json:"config"`
	TrainArgs   []string           `json:"train_args"`
	BestEpoch   int                `json:"best_epoch"`
	Selection   string             `json:"selection"`
	Admitted    *bool              `json:"admitted,omitempty"`
	Val         *train.Metrics     `json:"val,omitempty"`
	Test        *train.Metrics     `json:"test"`
	LinearProbe *train.LinearProbe `json:"linear_probe,omitempty"`
	Seconds     float64            `json:"seconds"`
	CPUSeconds  float64            `json:"cpu_seconds"`
	Sessions    int                `json:"sessions"`
	SharesCSV   string             `json:"shares_csv,omitempty"`

	History    []train.Metrics `json:"-"` // metrics.jsonl: per epoch and split
	ClipShares [][2]float64    `json:"-"` // audio, video share of every test clip (fusion runs)
}

// Check is one measured statement about a report and whether it holds.
type Check struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
	Pass   bool   `json:"pass"`
}

// job is one run to do or to load.
type job struct {
	method train.Mode
	seed   ingest.Seed
	tc     train.Config
	state  folderState
	done   int // epochs in its metrics.jsonl before this call
	res    *RunResult
}

// Run trains every method with every seed on cfg.Shards that is not
// already complete in cfg.Out, continues interrupted runs from their
// checkpoints, and writes table.md, table.csv, results.json and
// report.html with plots/. A run folder is reused only when its
// config.json is the one this comparison would train and it was trained
// on the same shards; otherwise Run stops with a *ConfigError naming it,
// or, with cfg.Retrain, trains it again. When ctx is cancelled Run stops
// the runs in flight (each keeps its last checkpoint) and returns ctx's
// error; calling it again continues.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start, cpu0 := time.Now(), cpuSeconds()
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{err}
	}
	src, err := train.OpenShards(cfg.Shards)
	if err != nil {
		return nil, &ConfigError{err}
	}
	defer src.Close()
	proto, err := ReadProtocol(cfg.Shards, src, cfg.Select)
	if err != nil {
		return nil, err
	}
	jobs, err := plan(&cfg, proto.Fingerprint)
	if err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Protocol: proto}
	var todo []*job
	for _, j := range jobs {
		if j.state == stateDone {
			rep.Reused++
		} else {
			todo = append(todo, j)
		}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	cfg.logf("shards %s (%s, preset %s; %s); %d methods × %d seeds = %d runs: %d complete, %d to train, %d at once\n",
		cfg.Shards, proto.Dataset, proto.Preset, proto.splitsText(), len(cfg.Methods), cfg.Seeds, len(jobs),
		rep.Reused, len(todo), min(cfg.Parallel, max(len(todo), 1)))
	if len(todo) > 0 {
		if err := trainAll(ctx, &cfg, src, jobs, todo); err != nil {
			return nil, err
		}
	}
	rep.Trained = len(todo)
	for _, j := range jobs {
		if j.res, err = loadRun(j.tc); err != nil {
			return nil, err
		}
		rep.Runs = append(rep.Runs, j.res)
	}
	rep.aggregate()
	if err := rep.write(); err != nil {
		return nil, err
	}
	rep.Elapsed, rep.CPU = time.Since(start).Seconds(), cpuSeconds()-cpu0
	if err := rep.writeResults(); err != nil {
		return nil, err
	}
	return rep, nil
}

func (c *Config) logf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "compare: "+format, a...)
	}
}

// plan lists the runs seed by seed with the state of their folders; run
// folders holding other runs stop it unless cfg.Retrain.
func plan(cfg *Config, fp string) ([]*job, error) {
	var jobs []*job
	var mismatched []string
	for _, seed := range cfg.SeedList() {
		for _, m := range cfg.Methods {
			tc, err := cfg.RunConfig(m, seed)
			if err != nil {
				return nil, &ConfigError{err}
			}
			state, why, err := inspectFolder(tc, fp)
			if err != nil {
				return nil, err
			}
			if state == stateMismatch {
				if !cfg.Retrain {
					mismatched = append(mismatched, fmt.Sprintf("  %s: %s", tc.Out, why))
					continue
				}
				cfg.logf("%s: %s; training it again (--retrain)\n", tc.Out, why)
				state = stateFresh
			}
			j := &job{method: m, seed: seed, tc: tc, state: state}
			if state == stateResume {
				j.done = epochsLogged(tc.Out)
			}
			jobs = append(jobs, j)
		}
	}
	if len(mismatched) > 0 {
		return nil, &ConfigError{fmt.Errorf("%d run folders in %s hold other runs than this comparison would train:\n%s\n"+
			"rerun with --retrain to train them again in place, or choose another --out",
			len(mismatched), cfg.Out, strings.Join(mismatched, "\n"))}
	}
	return jobs, nil
}

// epochsLogged counts the train lines of a run's metrics.jsonl.
func epochsLogged(dir string) int {
	ms, _ := train.ReadMetrics(dir)
	n := 0
	for _, m := range ms {
		if m.Split == ingest.SplitTrain {
			n++
		}
	}
	return n
}

// trainAll trains todo, cfg.Parallel at a time, in order; the first error
// stops the others.
func trainAll(ctx context.Context, cfg *Config, src *train.ShardExamples, all, todo []*job) error {
	prog := newTracker(cfg, len(all), len(all)-len(todo), todo)
	m := newMeter()
	defer m.close()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, j := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := trainOne(ctx, cfg, j, src, prog, m); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = parent.Err()
	}
	return firstErr
}

// trainOne trains (or continues) one run, attributes its test clips when
// it is a fusion run, and marks it complete.
func trainOne(ctx context.Context, cfg *Config, j *job, src *train.ShardExamples, prog *tracker, m *meter) error {
	dir := j.tc.Out
	var rec runRecord
	if j.state == stateResume {
		r, err := readRecord(dir)
		if err != nil {
			return err
		}
		rec = *r
	} else {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	rec.Sessions++
	if err := writeRecord(dir, rec); err != nil {
		return err
	}
	tc := j.tc
	tc.Resume = j.state == stateResume
	tc.Progress = prog.epochWriter(j)
	prog.started(j)
	m.start(j, dir, rec)
	_, err := train.RunExamples(ctx, tc, src)
	if err == nil && fusion(j.method) {
		_, err = train.AttributeExamples(ctx, train.AttributeConfig{RunDir: dir, Split: ingest.SplitTest,
			Out: filepath.Join(dir, AttributionDir)}, src) // the run's share definition
	}
	rec = m.stop(j)
	if err != nil {
		if werr := writeRecord(dir, rec); werr != nil {
			err = errors.Join(err, werr)
		}
		var ce *train.ConfigError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ce):
			return &ConfigError{fmt.Errorf("%s seed %d: %w", j.method, j.seed, err)}
		}
		return fmt.Errorf("compare: %s seed %d: %w", j.method, j.seed, err)
	}
	rec.Done = true
	if err := writeRecord(dir, rec); err != nil {
		return err
	}
	res, err := loadRun(j.tc)
	if err != nil {
		return err
	}
	prog.finished(j, res)
	return nil
}

// fusion reports whether mode trains both encoders.
func fusion(mode train.Mode) bool {
	info, err := train.LookupMethod(mode)
	return err == nil && info.Uses == train.Both
}

// loadRun reads a complete run folder.
func loadRun(tc train.Config) (*RunResult, error) {
	dir := tc.Out
	saved, err := train.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	res, err := train.ReadResult(dir)
	if err != nil {
		return nil, err
	}
	if res.Test == nil {
		return nil, fmt.Errorf("compare: %s: result.json has no test metrics", dir)
	}
	rec, err := readRecord(dir)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	rr := &RunResult{Method: tc.Mode, Seed: tc.Seed, Dir: dir, Config: saved, TrainArgs: TrainArgs(saved),
		BestEpoch: res.BestEpoch, Selection: res.Selection, Admitted: res.Admitted, Val: res.Val, Test: res.Test,
		LinearProbe: res.LinearProbe, Seconds: rec.Seconds, CPUSeconds: rec.CPUSeconds, Sessions: rec.Sessions}
	if rr.History, err = train.ReadMetrics(dir); err != nil {
		return nil, err
	}
	if fusion(tc.Mode) {
		ad := filepath.Join(dir, AttributionDir)
		shares, err := attribution.ReadShares(ad)
		if err != nil {
			return nil, err
		}
		rr.SharesCSV = filepath.Join(ad, attribution.SharesFile)
		for _, cs := range shares {
			rr.ClipShares = append(rr.ClipShares, cs.Shares)
		}
	}
	return rr, nil
}

// TrainArgs are the `avbalance train` flags that repeat the run of tc:
// --shards, --mode, --out and every setting that differs from the mode's
// defaults.
func TrainArgs(tc train.Config) []string {
	def, err := train.NewConfig(tc.Mode)
	if err != nil {
		return nil
	}
	defaults := flag.NewFlagSet("", flag.ContinueOnError)
	def.BindFlags(defaults)
	run := tc.Clone()
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	run.BindFlags(fs)
	args := []string{"--shards", tc.Shards, "--mode", string(tc.Mode), "--out", tc.Out}
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "shards", "mode", "out", "resume":
			return
		}
		if v := f.Value.String(); v != defaults.Lookup(f.Name).Value.String() {
			args = append(args, "--"+f.Name+"="+v)
		}
	})
	return args
}
