package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/atomicfile"
	"github.com/avbalance/avbalance/pipeline"
	"github.com/avbalance/avbalance/synth"
)

// Report is the outcome of a demo run: the comparison on the generated set, and the set.
type Report struct {
	*compare.Report
	Set *Set `json:"set"`
}

// Set is the generated and extracted set, as recorded in Out/set.json.
type Set struct {
	Synth      synth.Config       `json:"synth"`  // with defaults applied, Out excluded
	Preset     features.Preset    `json:"preset"` // with the overrides applied
	Clips      int                `json:"clips"`  // clips generated
	Splits     map[string]int     `json:"splits"` // generated clips per split
	VideoCodec string             `json:"video_codec"`
	Extract    ExtractCounts      `json:"extract"`
	Timings    map[string]float64 `json:"timings_s"` // synth, extract: wall seconds
	// Reused says the set was found complete in Out and not generated again.
	Reused bool `json:"-"`
}

// ExtractCounts is the clip accounting of an extraction (index.json and the shard rows).
type ExtractCounts struct {
	Total     int `json:"clips_total"`
	OK        int `json:"clips_ok"`
	Failed    int `json:"clips_failed"`
	ShardRows int `json:"shard_rows"` // rows counted in the shard files
	Failures  int `json:"failure_lines"`
}

// Folders and files inside Config.Out besides the comparison's.
const (
	SynthDir  = "synth"
	ShardsDir = "shards"
	SetFile   = "set.json"
)

// Run generates the set (reusing it when Out holds the same one), extracts it and compares
// every mode with every seed on it (package compare: table.md, table.csv, results.json,
// report.html, plots/ and runs/ in Out; finished runs of the same configuration are
// reused). It stops at the first error or when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	set, err := prepare(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	cc := cfg.compareConfig()
	cc.Notes = set.notes()
	rep, err := compare.Run(ctx, cc)
	if err != nil {
		return nil, err
	}
	return &Report{Report: rep, Set: set}, nil
}

// compareConfig is the comparison the demo runs on its set.
func (c *Config) compareConfig() compare.Config {
	cc := compare.DefaultConfig()
	cc.Title = "avbalance demo"
	cc.Shards, cc.Out = filepath.Join(c.Out, ShardsDir), c.Out
	cc.Methods, cc.Seeds, cc.Seed = c.Modes, c.Seeds, c.Seed
	cc.Train, cc.Params, cc.Parallel = c.Train, c.Params, c.Parallel
	cc.Retrain = true // the demo owns its folder: a changed configuration trains again
	cc.Checks = checks
	cc.Progress, cc.Verbose = c.Progress, c.Verbose
	return cc
}

func (c *Config) logf(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "demo: "+format, a...)
	}
}

// wantedSet is the Set cfg asks for, without its results.
func (c *Config) wantedSet() (*Set, error) {
	sc := c.Synth
	sc.Out, sc.Seed = "", c.Seed
	sc = sc.WithDefaults()
	sc.Workers = 0 // how many encoders ran does not change the clips
	p, err := c.preset()
	return &Set{Synth: sc, Preset: p}, err
}

// prepare returns the set of Out/set.json when it is the one cfg asks for and its shards
// are complete; otherwise it generates and extracts the set into fresh folders.
func prepare(ctx context.Context, cfg *Config) (*Set, error) {
	want, err := cfg.wantedSet()
	if err != nil {
		return nil, err
	}
	shards := filepath.Join(cfg.Out, ShardsDir)
	if have, err := readSet(cfg.Out); err == nil && reflect.DeepEqual(have.Synth, want.Synth) && reflect.DeepEqual(have.Preset, want.Preset) {
		if ix, err := shard.ReadIndex(shards); err == nil && ix.ClipsOK+ix.ClipsFailed == ix.ClipsTotal && ix.ClipsTotal == have.Clips {
			have.Reused = true
			cfg.logf("synth, extract: reusing the set in %s (%d clips, seed %d)\n", shards, have.Clips, cfg.Seed)
			return have, nil
		}
	}
	set := want
	set.Timings = map[string]float64{}
	for _, d := range []string{SynthDir, ShardsDir} {
		if err := os.RemoveAll(filepath.Join(cfg.Out, d)); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}

	sc := cfg.Synth
	sc.Out, sc.Seed, sc.Workers = filepath.Join(cfg.Out, SynthDir), cfg.Seed, cfg.Workers
	cfg.logf("synth: generating %d clips (seed %d) → %s\n", set.Synth.Clips, cfg.Seed, sc.Out)
	t0 := time.Now()
	res, err := synth.Generate(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	set.Timings["synth"] = time.Since(t0).Seconds()
	set.Clips, set.VideoCodec, set.Splits = len(res.Clips), res.VideoCodec, map[string]int{}
	for _, c := range res.Clips {
		set.Splits[c.Split]++
	}
	cfg.logf("synth: %d clips (%s + AAC; train %d, val %d, test %d) in %.1fs\n", set.Clips, set.VideoCodec,
		set.Splits["train"], set.Splits["val"], set.Splits["test"], set.Timings["synth"])

	ds, err := ingest.ReadManifest(res.Manifest, ingest.ManifestOptions{Name: "synth", Labels: res.Labels})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	p := set.Preset
	cfg.logf("extract: preset %s (%d×%d %s, %d frames of %d×%d) → %s\n", p.Name, p.NMels, p.TimeFrames, p.Feature,
		p.Frames, p.Width, p.Height, shards)
	t0 = time.Now()
	sum, err := pipeline.Extract(ctx, pipeline.Config{Dataset: ds, Preset: p, Out: shards, Workers: cfg.ExtractWorkers, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("demo: extract: %w", err)
	}
	if sum.Canceled {
		return nil, ctx.Err()
	}
	set.Timings["extract"] = time.Since(t0).Seconds()
	if set.Extract, err = countShards(shards); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cfg.logf("extract: %d clips, %d ok, %d failed in %.1fs\n", sum.Total, sum.OK, sum.Failed, set.Timings["extract"])
	if sum.OK == 0 {
		return nil, fmt.Errorf("demo: no clip was extracted (see %s)", filepath.Join(shards, shard.FailuresFile))
	}
	return set, writeSet(cfg.Out, set)
}

func readSet(dir string) (*Set, error) {
	b, err := os.ReadFile(filepath.Join(dir, SetFile))
	if err != nil {
		return nil, err
	}
	var s Set
	return &s, json.Unmarshal(b, &s)
}

func writeSet(dir string, s *Set) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, SetFile), append(b, '\n'))
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

// notes describe the set for the report.
func (s *Set) notes() []string {
	sc, p, e := s.Synth, s.Preset, s.Extract
	return []string{
		fmt.Sprintf("generator (seed %d): %d clips, %d classes in %d pairs, %g s, %d×%d at %d fps, %s + AAC; train %d / val %d / test %d",
			sc.Seed, s.Clips, sc.Classes, sc.Pairs(), sc.Seconds, sc.Width, sc.Height, sc.FPS, s.VideoCodec,
			s.Splits["train"], s.Splits["val"], s.Splits["test"]),
		fmt.Sprintf("audio: a tone per pair (%g–%g Hz) at %g dB SNR — tells the pair, never the member",
			sc.Cues.ToneLowHz, sc.Cues.ToneHighHz, sc.Cues.AudioSNRdB),
		fmt.Sprintf("video: a faint grating (contrast %g, period %g of the frame) whose orientation is the class (members 90° apart, pairs %.0f° apart), noise %g, %d distractors",
			sc.Cues.CueContrast, sc.Cues.StripePeriod, sc.Cues.PairSpread*90/float64(sc.Pairs()), sc.Cues.VideoNoise, sc.Cues.Distractors),
		fmt.Sprintf("features: preset %s — %d×%d %s, %d frames of %d×%d; extracted %d of %d clips (%d failed; %d shard rows, %d failure lines)",
			p.Name, p.NMels, p.TimeFrames, p.Feature, p.Frames, p.Width, p.Height, e.OK, e.Total, e.Failed, e.ShardRows, e.Failures),
	}
}
