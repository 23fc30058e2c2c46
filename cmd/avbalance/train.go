package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/avbalance/avbalance/train"
)

func runTrain(ctx context.Context, args []string) int {
	d := train.DefaultConfig()
	fs := newFlags("train", "--shards DIR --mode audio|video|concat|ogm-ge|attr-reg --out RUNDIR [flags]")
	cfg := d
	fs.StringVar(&cfg.Shards, "shards", "", "extraction output folder (index.json + shard-*.arrow)")
	fs.StringVar(&cfg.Out, "out", "", "run folder: config.json, metrics.jsonl, checkpoints, result.json")
	fs.StringVar(&cfg.Mode, "mode", d.Mode, "audio, video (unimodal), concat (naive fusion), ogm-ge, attr-reg")
	fs.StringVar(&cfg.Model, "model", d.Model, "encoder size: small or resnet18")
	fs.StringVar(&cfg.Head, "head", d.Head, "fusion head: concat (concat+linear), sum, mlp")
	fs.IntVar(&cfg.Embed, "embed", d.Embed, "embedding size per modality (resnet18: 512)")
	fs.IntVar(&cfg.Epochs, "epochs", d.Epochs, "epochs")
	fs.IntVar(&cfg.Batch, "batch", d.Batch, "batch size")
	fs.Float64Var(&cfg.LR, "lr", d.LR, "learning rate")
	fs.StringVar(&cfg.Optimizer, "optimizer", d.Optimizer, "sgd (momentum) or adam")
	fs.Float64Var(&cfg.Momentum, "momentum", d.Momentum, "SGD momentum")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", d.WeightDecay, "weight decay")
	fs.Uint64Var(&cfg.Seed, "seed", d.Seed, "seed for initialisation, shuffling and noise")
	fs.Float64Var(&cfg.Lambda, "lambda", d.Lambda, "attr-reg: weight λ of the share penalty")
	target := fs.String("target", "audio=0.5,video=0.5", "attr-reg: target attribution shares")
	fs.StringVar(&cfg.AttrClass, "attr-class", d.AttrClass, "attr-reg: attribute the true or the predicted class")
	fs.StringVar(&cfg.AttrNorm, "attr-norm", d.AttrNorm, "attr-reg: pool attributions with l2 or l1")
	fs.BoolVar(&cfg.PenaltyToEncoders, "penalty-to-encoders", d.PenaltyToEncoders, "attr-reg: let the penalty's gradient reach the encoders (else only the fusion head)")
	fs.Float64Var(&cfg.Alpha, "alpha", d.Alpha, "ogm-ge: modulation strength α")
	fs.BoolVar(&cfg.GENoise, "ge-noise", d.GENoise, "ogm-ge: add generalization-enhancement noise")
	fs.IntVar(&cfg.OGMStart, "ogm-start", d.OGMStart, "ogm-ge: first epoch (0-based) with modulation")
	fs.IntVar(&cfg.OGMEnd, "ogm-end", d.OGMEnd, "ogm-ge: last epoch with modulation (-1: all)")
	fs.IntVar(&cfg.Workers, "workers", d.Workers, "batch-loading goroutines")
	fs.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop each epoch after this many steps (0: none; for smoke tests)")
	fs.BoolVar(&cfg.Resume, "resume", false, "continue the run in --out from its last checkpoint")
	quiet := fs.Bool("quiet", false, "no per-epoch output")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	t, err := train.ParseTarget(*target)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	cfg.Target = t
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "train: %v", err)
	}
	res, err := train.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "train: interrupted; run again with --resume to continue from the last checkpoint")
			return exitSignal
		}
		return fail(exitAborted, "train: %v", err)
	}
	printJSON(res)
	return exitOK
}

func runEval(ctx context.Context, args []string) int {
	fs := newFlags("eval", "--run RUNDIR --shards DIR [--split test]")
	run := fs.String("run", "", "run folder written by `avbalance train`")
	shards := fs.String("shards", "", "extraction output folder")
	split := fs.String("split", "test", "split to evaluate: train, val or test")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *run == "" || *shards == "" {
		return fail(exitUsage, "eval needs --run and --shards")
	}
	m, err := train.Eval(ctx, *run, *shards, *split)
	if err != nil {
		return fail(exitAborted, "eval: %v", err)
	}
	printJSON(m)
	return exitOK
}

func runAttribute(ctx context.Context, args []string) int {
	fs := newFlags("attribute", "--run RUNDIR --shards DIR [--out DIR] [flags]")
	var ac train.AttributeConfig
	fs.StringVar(&ac.RunDir, "run", "", "run folder written by `avbalance train` (a fusion mode)")
	fs.StringVar(&ac.Shards, "shards", "", "extraction output folder")
	fs.StringVar(&ac.Split, "split", "test", "split to attribute")
	fs.StringVar(&ac.Out, "out", "", "report folder for shares.csv and summary.json (default RUNDIR/attribution-SPLIT)")
	fs.StringVar(&ac.Method, "method", "gradinput", "gradinput (Grad×Input), ig (Integrated Gradients on the embeddings) or ig-input (Integrated Gradients on the raw inputs)")
	fs.IntVar(&ac.Steps, "steps", 32, "ig, ig-input: integration steps (ig-input: use 256 or more for completeness within ~1%)")
	fs.StringVar(&ac.Baseline, "baseline", "zero", "ig, ig-input: baseline embedding or input, zero or mean (of the split)")
	fs.StringVar(&ac.Norm, "norm", "l2", "pool attributions with l2 or l1")
	fs.StringVar(&ac.Class, "class", "true", "attribute the true or the predicted class")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if ac.RunDir == "" || ac.Shards == "" {
		return fail(exitUsage, "attribute needs --run and --shards")
	}
	if ac.Out == "" {
		ac.Out = ac.RunDir + "/attribution-" + ac.Split
	}
	ac.Progress = os.Stderr
	sum, err := train.Attribute(ctx, ac)
	if err != nil {
		return fail(exitAborted, "attribute: %v", err)
	}
	printJSON(sum)
	return exitOK
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
