package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/extractflags"
	"github.com/avbalance/avbalance/pipeline"
)

func runExtract(ctx context.Context, args []string) int {
	fs := newFlags("extract", "--dataset cremad|vggsound|manifest --root DIR [--csv FILE] [--manifest FILE] --preset NAME --out DIR [flags]")
	sel := extractflags.Register(fs, "dataset folder: CREMA-D root (VideoFlash/, AudioWAV/ or flat .flv files) or the VGGSound clips folder")
	out := fs.String("out", "", "output folder `DIR` for shard-*.arrow, index.json and failures.jsonl")
	workers := fs.Int("workers", 0, "decode workers, `N` (0 = one per CPU)")
	shardRows := fs.Int("shard-rows", 0, "rows per shard, `N` (0 = about 256 MB per shard)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	preset, err := sel.Preset()
	if err != nil {
		return fail(exitUsage, "extract: %v", err)
	}
	if *out == "" {
		return fail(exitUsage, "extract: --out is required")
	}
	ds, err := sel.Input.Read()
	if err != nil {
		return fail(exitUsage, "extract: %v", err)
	}
	if len(ds.Clips)+len(ds.Rejected) == 0 {
		msg := "extract: %s lists no clips: nothing to extract"
		if ds.Skipped > 0 {
			msg += fmt.Sprintf(" (%d listed clips were left out: absent with --only-present, or in neither split list)", ds.Skipped)
		}
		return fail(exitUsage, msg, inputName(sel.Input))
	}
	cfg := pipeline.Config{
		Dataset: ds, Preset: preset, Out: *out, Workers: *workers, ShardRows: *shardRows,
		Resume: sel.Resume, Seed: sel.Input.Seed, ClipTimeout: sel.ClipTimeout(),
	}
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "extract: %v", err)
	}
	if len(ds.Clips) > 0 && !ds.HasSplits() {
		fmt.Fprintf(os.Stderr, "extract: warning: no clip has a split (train, val or test); training needs them: add a split column to the manifest (or use a CREMA-D split policy)\n")
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
		if ce := (*pipeline.ConfigError)(nil); errors.As(err, &ce) {
			return fail(exitUsage, "extract: %v", err)
		}
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

// inputName names the clip list an Input reads, for messages.
func inputName(s ingest.Input) string {
	switch s.Dataset {
	case ingest.ManifestName:
		return "manifest " + s.Manifest
	case ingest.VGGSoundName:
		return "the VGGSound list " + s.CSV
	}
	return "the CREMA-D folder " + s.Root
}
