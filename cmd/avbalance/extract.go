package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
)

func runExtract(ctx context.Context, args []string) int {
	fs := newFlags("extract", "--dataset cremad|vggsound|manifest --root DIR [--csv FILE] [--manifest FILE] --preset NAME --out DIR [flags]")
	dataset := fs.String("dataset", "", "cremad, vggsound or manifest")
	root := fs.String("root", "", "dataset folder: CREMA-D root (VideoFlash/, AudioWAV/ or flat .flv files) or the VGGSound clips folder")
	csvPath := fs.String("csv", "", "VGGSound clip list (youtube_id,start_seconds,label,split)")
	manifest := fs.String("manifest", "", "generic manifest CSV (id,path,label[,split][,audio_path])")
	split := fs.String("split", "speaker", "CREMA-D split: speaker (by actor, seeded), lists (--train-list/--test-list) or none")
	trainList := fs.String("train-list", "", "CREMA-D train list for --split lists (OGM-GE train.csv)")
	testList := fs.String("test-list", "", "CREMA-D test list for --split lists (OGM-GE test.csv)")
	valFrac := fs.Float64("val-frac", 0.1, "share of train moved to val (CREMA-D lists, VGGSound)")
	onlyPresent := fs.Bool("only-present", false, "VGGSound: leave out listed clips whose file is absent instead of recording them as failures")
	presetName := fs.String("preset", "default", "feature preset: "+strings.Join(features.PresetNames(), ", "))
	frames := fs.Int("frames", 0, "override the preset's number of video frames")
	size := fs.Int("size", 0, "override the preset's frame width and height (pixels)")
	seconds := fs.Float64("seconds", 0, "override the preset's audio duration (seconds)")
	out := fs.String("out", "", "output folder for shard-*.arrow, index.json and failures.jsonl")
	workers := fs.Int("workers", 0, "decode workers (0 = one per CPU)")
	shardRows := fs.Int("shard-rows", 0, "rows per shard (0 = about 256 MB per shard)")
	resume := fs.Bool("resume", false, "continue an interrupted run in --out: keep its shards and failures, extract the rest")
	seed := fs.Uint64("seed", 0, "seed for splits and random crops")
	clipTimeout := fs.Duration("clip-timeout", pipeline.DefaultClipTimeout, "give up on a clip that takes longer than this to decode (recorded as a failure; 0 = no limit)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	preset, err := features.Lookup(*presetName)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if *frames > 0 {
		preset.Frames = *frames
	}
	if *size > 0 {
		preset.Width, preset.Height = *size, *size
	}
	if *seconds > 0 {
		preset = preset.WithSeconds(*seconds)
	}
	if err := preset.Validate(); err != nil {
		return fail(exitUsage, "preset %s: %v", preset.Name, err)
	}
	if *out == "" {
		return fail(exitUsage, "--out is required")
	}
	var ds *ingest.Dataset
	switch *dataset {
	case "cremad":
		ds, err = ingest.ReadCremaD(ingest.CremaDOptions{
			Root: *root, Split: ingest.SplitPolicy(*split), Seed: *seed,
			TrainList: *trainList, TestList: *testList, ValFrac: *valFrac,
		})
	case "vggsound":
		ds, err = ingest.ReadVGGSound(ingest.VGGSoundOptions{
			CSV: *csvPath, ClipsDir: *root, OnlyPresent: *onlyPresent, ValFrac: *valFrac, Seed: *seed,
		})
	case "manifest":
		if *manifest == "" {
			return fail(exitUsage, "--dataset manifest needs --manifest FILE")
		}
		ds, err = ingest.ReadManifest(*manifest, ingest.ManifestOptions{})
	case "":
		return fail(exitUsage, "--dataset is required (cremad, vggsound or manifest)")
	default:
		return fail(exitUsage, "unknown --dataset %q (cremad, vggsound or manifest)", *dataset)
	}
	if err != nil {
		return fail(exitUsage, "%s: %v", *dataset, err)
	}
	cfg := pipeline.Config{
		Dataset: ds, Preset: preset, Out: *out, Workers: *workers, ShardRows: *shardRows,
		Resume: *resume, Seed: *seed, ClipTimeout: *clipTimeout,
	}
	if *clipTimeout == 0 {
		cfg.ClipTimeout = -1 // no limit
	} else if *clipTimeout < 0 {
		return fail(exitUsage, "--clip-timeout must be ≥ 0 (0 = no limit), got %s", *clipTimeout)
	}
	if !*quiet {
		cfg.Progress = os.Stderr
		fmt.Fprintf(os.Stderr, "extract: %d clips (%d rejected up front) from %s, preset %s → %s\n",
			len(ds.Clips)+len(ds.Rejected), len(ds.Rejected), ds.Name, preset.Name, *out)
		if ds.Skipped > 0 {
			fmt.Fprintf(os.Stderr, "extract: %d listed clips left out (absent with --only-present, or in neither split list)\n", ds.Skipped)
		}
	}
	sum, err := pipeline.Extract(ctx, cfg)
	if err != nil {
		return fail(exitAborted, "extract: %v", err)
	}
	fmt.Printf("clips_total %d  clips_ok %d  clips_failed %d  (skipped as already done: %d)  shards %d  %.1fs\n",
		sum.Total, sum.OK, sum.Failed, sum.Skipped, sum.Shards, sum.Elapsed.Seconds())
	switch {
	case sum.Canceled:
		fmt.Fprintf(os.Stderr, "extract: interrupted; run again with --resume to finish\n")
		return exitSignal
	case sum.Failed > 0:
		fmt.Fprintf(os.Stderr, "extract: %d clips failed: see %s/failures.jsonl\n", sum.Failed, *out)
		return exitFailures
	}
	return exitOK
}
