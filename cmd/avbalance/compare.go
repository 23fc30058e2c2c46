package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/compare"
)

func runCompare(ctx context.Context, args []string) int {
	cfg := compare.DefaultConfig()
	fs := newFlags("compare", "--shards DIR --out DIR [--methods a,b,…] [--seeds N] [flags] [METHOD.FLAG=VALUE …]")
	cfg.BindFlags(fs)
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	fs.BoolVar(&cfg.Verbose, "v", false, "print every epoch of every run")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), "\nMethods and their settings (METHOD.FLAG=VALUE, defaults shown; a training flag works too, e.g. audio.epochs=32):\n")
		compare.PrintMethods(fs.Output())
	}
	if err := cfg.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return fail(exitUsage, "compare: %v", err)
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	rep, err := compare.Run(ctx, cfg)
	if err != nil {
		return compareFailed("compare", err)
	}
	fmt.Print(rep.Table())
	fmt.Printf("\n%d runs trained, %d reused; %s, %s, %s (%.1fs, %.1f CPU-s)\n", rep.Trained, rep.Reused,
		filepath.Join(cfg.Out, compare.TableFile), filepath.Join(cfg.Out, compare.ResultsFile),
		filepath.Join(cfg.Out, compare.ReportFile), rep.Elapsed, rep.CPU)
	return exitOK
}

// compareFailed reports an error of a comparison (compare, demo) and returns its exit code:
// 2 for a *compare.ConfigError, 130 when interrupted, 1 otherwise.
func compareFailed(verb string, err error) int {
	var ce *compare.ConfigError
	switch {
	case errors.As(err, &ce):
		return fail(exitUsage, "%s: %v", verb, err)
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(os.Stderr, "%s: interrupted; run the same command again to continue (finished runs are kept, the others resume from their checkpoints)\n", verb)
		return exitSignal
	}
	return fail(exitAborted, "%s: %v", verb, err)
}
