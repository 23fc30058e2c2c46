package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
	"github.com/avbalance/avbalance/synth"
	"github.com/avbalance/avbalance/train"
)

// Report is the outcome of a demo run.
type Report struct {
	Config  Config        `json:"config"`
	Seeds   []*SeedResult `json:"seeds"`
	Rows    []Row         `json:"rows"`   // one per mode, in Config.Modes order: mean ± std over seeds
	Checks  []Check       `json:"checks"` // the imbalance the demo is meant to show, measured
	HTML    string        `json:"html"`   // Out/report.html
	Plots   []string      `json:"plots"`  // PNG files, relative to Out
	Elapsed float64       `json:"elapsed_s"`
	CPU     float64       `json:"cpu_s"` // user+system CPU seconds of this process during Run
}

// SeedResult is one seed's set, extraction and runs.
type SeedResult struct {
	Seed       int64              `json:"seed"`
	Dir        string             `json:"dir"`
	Clips      int                `json:"clips"`  // clips generated
	Splits     map[string]int     `json:"splits"` // generated clips per split
	VideoCodec string             `json:"video_codec"`
	Extract    ExtractCounts      `json:"extract"`
	Runs       []*ModeResult      `json:"runs"`      // in Config.Modes order
	Timings    map[string]float64 `json:"timings_s"` // synth, extract: wall seconds
}

// ExtractCounts is the clip accounting of an extraction (index.json and the shard rows).
type ExtractCounts struct {
	Total     int `json:"clips_total"`
	OK        int `json:"clips_ok"`
	Failed    int `json:"clips_failed"`
	ShardRows int `json:"shard_rows"` // rows counted in the shard files
	Failures  int `json:"failure_lines"`
}

// ModeResult is one training run: test metrics of its best (validation) epoch, the per-epoch
// history and, for fusion modes, the per-clip test shares.
type ModeResult struct {
	Mode       train.Mode      `json:"mode"`
	RunDir     string          `json:"run_dir"`
	BestEpoch  int             `json:"best_epoch"`
	Test       train.Metrics   `json:"test"`
	Seconds    float64         `json:"seconds"` // wall time of training (attribution excluded)
	History    []train.Metrics `json:"-"`       // metrics.jsonl: train and val lines per epoch
	SharesCSV  string          `json:"shares_csv,omitempty"`
	ClipShares [][2]float64    `json:"-"` // audio, video share of every test clip (fusion modes)
}

// Stat is a mean and a sample standard deviation (0 for one value) over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// Row is one mode's line of the table.
type Row struct {
	Mode       train.Mode `json:"mode"`
	Accuracy   Stat       `json:"accuracy"`
	MAP        Stat       `json:"map"`
	AudioShare Stat       `json:"audio_share"`
	VideoShare Stat       `json:"video_share"`
	ProbeAudio Stat       `json:"probe_audio_acc"`
	ProbeVideo Stat       `json:"probe_video_acc"`
	Seconds    Stat       `json:"seconds"`
}

// Run generates Config.Seeds audio-visual sets, extracts them, trains every mode on each and
// writes Out/report.html, Out/plots/*.png and Out/results.json. Each seed's folder
// Out/seed-S is replaced. It stops at the first error or when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	cpu0 := cpuSeconds()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Parallel == 0 {
		cfg.Parallel = 1
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	rep := &Report{Config: cfg}
	for i := range cfg.Seeds {
		sr, err := runSeed(ctx, &cfg, cfg.Seed+int64(i))
		if err != nil {
			return nil, err
		}
		rep.Seeds = append(rep.Seeds, sr)
	}
	rep.aggregate()
	cfg.logf("report: writing plots and %s\n", filepath.Join(cfg.Out, ReportFile))
	if err := rep.write(); err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(start).Seconds()
	rep.CPU = cpuSeconds() - cpu0
	if err := rep.writeJSON(); err != nil {
		return nil, err
	}
	return rep, nil
}

// File names inside Config.Out.
const (
	ReportFile  = "report.html"
	ResultsFile = "results.json"
	PlotsDir    = "plots"
)

func (c *Config) logf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "demo: "+format, a...)
	}
}

func runSeed(ctx context.Context, cfg *Config, seed int64) (*SeedResult, error) {
	dir := filepath.Join(cfg.Out, "seed-"+strconv.FormatInt(seed, 10))
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("demo: clearing %s: %w", dir, err)
	}
	sr := &SeedResult{Seed: seed, Dir: dir, Timings: map[string]float64{}}

	// 1. generate
	sc := cfg.Synth
	sc.Out, sc.Seed, sc.Workers = filepath.Join(dir, "synth"), seed, cfg.Workers
	cfg.logf("seed %d: synth: generating %d clips → %s\n", seed, sc.WithDefaults().Clips, sc.Out)
	t0 := time.Now()
	res, err := synth.Generate(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("demo: seed %d: %w", seed, err)
	}
	sr.Timings["synth"] = time.Since(t0).Seconds()
	sr.Clips, sr.VideoCodec, sr.Splits = len(res.Clips), res.VideoCodec, map[string]int{}
	for _, c := range res.Clips {
		sr.Splits[c.Split]++
	}
	cfg.logf("seed %d: synth: %d clips (%s + AAC; train %d, val %d, test %d) in %.1fs\n", seed, sr.Clips,
		sr.VideoCodec, sr.Splits["train"], sr.Splits["val"], sr.Splits["test"], sr.Timings["synth"])

	// 2. extract
	ds, err := ingest.ReadManifest(res.Manifest, ingest.ManifestOptions{Name: "synth", Labels: res.Labels})
	if err != nil {
		return nil, fmt.Errorf("demo: seed %d: %w", seed, err)
	}
	preset, err := cfg.preset()
	if err != nil {
		return nil, err
	}
	shards := filepath.Join(dir, "shards")
	cfg.logf("seed %d: extract: preset %s (%d×%d %s, %d frames of %d×%d) → %s\n", seed, preset.Name,
		preset.NMels, preset.TimeFrames, preset.Feature, preset.Frames, preset.Width, preset.Height, shards)
	t0 = time.Now()
	sum, err := pipeline.Extract(ctx, pipeline.Config{Dataset: ds, Preset: preset, Out: shards,
		Workers: cfg.ExtractWorkers, Seed: uint64(seed)})
	if err != nil {
		return nil, fmt.Errorf("demo: seed %d: extract: %w", seed, err)
	}
	if sum.Canceled {
		return nil, ctx.Err()
	}
	sr.Timings["extract"] = time.Since(t0).Seconds()
	if sr.Extract, err = countShards(shards); err != nil {
		return nil, fmt.Errorf("demo: seed %d: %w", seed, err)
	}
	cfg.logf("seed %d: extract: %d clips, %d ok, %d failed in %.1fs\n", seed, sum.Total, sum.OK, sum.Failed, sr.Timings["extract"])
	if sum.OK == 0 {
		return nil, fmt.Errorf("demo: seed %d: no clip was extracted (see %s)", seed, filepath.Join(shards, shard.FailuresFile))
	}

	// 3. train every mode
	src, err := train.OpenShards(shards)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	sr.Runs = make([]*ModeResult, len(cfg.Modes))
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, mode := range cfg.Modes {
		select { // start runs in table order
		case sem <- struct{}{}:
		case <-rctx.Done():
		}
		if rctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			mr, err := runMode(rctx, cfg, seed, dir, mode, src)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				cancel()
				return
			}
			sr.Runs[i] = mr
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return sr, nil
}

func runMode(ctx context.Context, cfg *Config, seed int64, dir string, mode train.Mode, src *train.ShardSource) (*ModeResult, error) {
	tc, err := cfg.trainConfig(mode)
	if err != nil {
		return nil, err
	}
	tc.Shards = filepath.Join(dir, "shards")
	tc.Out = filepath.Join(dir, "runs", string(mode))
	tc.Seed, tc.Resume = uint64(seed), false
	tc.Progress = nil
	if cfg.Verbose && cfg.Progress != nil {
		tc.Progress = &prefixWriter{w: cfg.Progress, prefix: fmt.Sprintf("demo: seed %d: %s: ", seed, mode)}
	}
	cfg.logf("seed %d: train %-8s %d epochs …\n", seed, mode, tc.Epochs)
	t0 := time.Now()
	res, err := train.RunSource(ctx, tc, src)
	if err != nil {
		return nil, fmt.Errorf("demo: seed %d: train %s: %w", seed, mode, err)
	}
	mr := &ModeResult{Mode: mode, RunDir: tc.Out, BestEpoch: res.BestEpoch, Seconds: time.Since(t0).Seconds()}
	if res.Test != nil {
		mr.Test = *res.Test
	}
	if mr.History, err = train.ReadMetrics(tc.Out); err != nil {
		return nil, err
	}
	if mode != train.ModeAudio && mode != train.ModeVideo {
		ad := filepath.Join(tc.Out, "attribution-test")
		if _, err := train.AttributeSource(ctx, train.AttributeConfig{RunDir: tc.Out, Split: ingest.SplitTest, Out: ad,
			Norm: tc.AttrNorm, Class: tc.AttrClass}, src); err != nil {
			return nil, fmt.Errorf("demo: seed %d: attribute %s: %w", seed, mode, err)
		}
		mr.SharesCSV = filepath.Join(ad, attribution.SharesFile)
		shares, err := attribution.ReadShares(ad)
		if err != nil {
			return nil, err
		}
		for _, cs := range shares {
			mr.ClipShares = append(mr.ClipShares, cs.Shares)
		}
	}
	cfg.logf("seed %d: train %-8s done in %5.1fs: test acc %.3f mAP %.3f shares audio %.2f video %.2f, probe video %.3f (best epoch %d)\n",
		seed, mode, mr.Seconds, mr.Test.Accuracy, mr.Test.MAP, mr.Test.AudioShare, mr.Test.VideoShare, mr.Test.ProbeVideo, mr.BestEpoch+1)
	return mr, nil
}

// countShards reads index.json, counts the rows of every shard and the failure lines.
func countShards(dir string) (ExtractCounts, error) {
	ix, err := shard.ReadIndex(dir)
	if err != nil {
		return ExtractCounts{}, err
	}
	ec := ExtractCounts{Total: ix.ClipsTotal, OK: ix.ClipsOK, Failed: ix.ClipsFailed}
	for _, s := range ix.Shards {
		r, err := shard.Open(filepath.Join(dir, s.File))
		if err != nil {
			return ec, err
		}
		ec.ShardRows += r.NumRows()
		r.Close()
	}
	fails, err := shard.ReadFailures(dir)
	ec.Failures = len(fails)
	return ec, err
}

// prefixWriter prefixes every line written to w.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, b)
	return len(b), err
}
