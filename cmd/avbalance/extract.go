package main

import (
	"context"
	"fmt"
	"os"

	"github.com/avbalance/avbalance/internal/extractflags"
	"github.com/avbalance/avbalance/pipeline"
)

func runExtract(ctx context.Context, args []string) int {
	fs := newFlags("extract", "--dataset cremad|vggsound|manifest --root DIR [--csv FILE] [--manifest FILE] --preset NAME --out DIR [flags]")
	sel := extractflags.Register(fs, "dataset folder: CREMA-D root (VideoFlash/, AudioWAV/ or flat .flv files) or the VGGSound clips folder")
	out := fs.String("out", "", "output folder for shard-*.arrow, index.json and failures.jsonl")
	workers := fs.Int("workers", 0, "decode workers (0 = one per CPU)")
	shardRows := fs.Int("shard-rows", 0, "rows per shard (0 = about 256 MB per shard)")
	resume := fs.Bool("resume", false, "continue an interrupted run in --out: keep its shards and failures, extract the rest")
	clipTimeout := fs.Duration("clip-timeout", pipeline.DefaultClipTimeout, "give up on a clip that takes longer than this to decode (recorded as a failure; 0 = no limit)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	preset, err := sel.Preset()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if *out == "" {
		return fail(exitUsage, "--out is required")
	}
	ds, err := sel.Source.Read()
	if err != nil {
		return fail(exitUsage, "%s: %v", sel.Source.Dataset, err)
	}
	cfg := pipeline.Config{
		Dataset: ds, Preset: preset, Out: *out, Workers: *workers, ShardRows: *shardRows,
		Resume: *resume, Seed: sel.Source.Seed, ClipTimeout: *clipTimeout,
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
