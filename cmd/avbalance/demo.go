package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/demo"
	"github.com/avbalance/avbalance/ingest"
)

func runDemo(ctx context.Context, args []string) int {
	fs := newFlags("demo", "[--out DIR] [--quick] [--seeds N] [flags]")
	out := fs.String("out", "demo-out", "output folder: table.md, report.html, plots/, results.json, runs/, synth/, shards/")
	quick := fs.Bool("quick", false, "a small, fast run (fewer clips and epochs) that shows the whole flow")
	seeds := fs.Int("seeds", 0, "training seeds, each training every mode on the set; the table shows mean ± std (0: the default)")
	seed := ingest.Seed(1)
	fs.Var(&seed, "seed", "`seed` of the generated set, and the first training seed")
	epochs := fs.Int("epochs", 0, "epochs per mode (0: the default)")
	clips := fs.Int("clips", 0, "clips per generated set (0: the default)")
	parallel := fs.Int("parallel", 0, "training runs at once (0: the default)")
	workers := fs.Int("workers", 0, "synth and extract workers (0: one per CPU)")
	config := fs.String("config", "", "JSON file overriding the demo configuration (fields of demo.Config)")
	verbose := fs.Bool("v", false, "print every epoch of every run")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	cfg := demo.DefaultConfig()
	if *quick {
		cfg = demo.QuickConfig()
	}
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return fail(exitUsage, "demo: %v", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fail(exitUsage, "demo: %s: %v", *config, err)
		}
	}
	cfg.Out, cfg.Seed, cfg.Workers, cfg.Verbose = *out, seed, *workers, *verbose
	if *seeds > 0 {
		cfg.Seeds = *seeds
	}
	if *epochs > 0 {
		cfg.Train.Epochs = *epochs
	}
	if *clips > 0 {
		cfg.Synth.Clips = *clips
	}
	if *parallel > 0 {
		cfg.Parallel = *parallel
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "demo: %v", err)
	}
	rep, err := demo.Run(ctx, cfg)
	if err != nil {
		return compareFailed("demo", err)
	}
	fmt.Print(rep.Table())
	if *quick {
		fmt.Println("(--quick trains 4 epochs on 120 clips: too short to show the imbalance; run without --quick for the measurement)")
	}
	fmt.Printf("report: %s (%d runs trained, %d reused; the comparison took %.0fs, %.0f CPU-s)\n",
		filepath.Join(cfg.Out, compare.ReportFile), rep.Trained, rep.Reused, rep.Elapsed, rep.CPU)
	return exitOK
}
