package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train"
)

func runTrain(ctx context.Context, args []string) int {
	cfg := train.DefaultConfig()
	fs := newFlags("train", "--shards DIR --mode MODE --out RUNDIR [flags] | --out RUNDIR --resume [--epochs N]")
	finish := cfg.BindFlags(fs)
	quiet := fs.Bool("quiet", false, "no per-epoch output")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), "\nModes:\n")
		train.PrintModes(fs.Output())
	}
	if code := parse(fs, args); code >= 0 {
		return code
	}
	var err error
	if cfg.Resume {
		if cfg.Out == "" {
			return fail(exitUsage, "train: --resume needs --out, the run folder to continue")
		}
		cfg, err = train.ResumeConfig(cfg.Out, fs)
	} else {
		err = finish()
	}
	if err != nil {
		return trainFail("train", err)
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "train: %v", err)
	}
	res, err := train.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "avbalance: train: interrupted; run again with --out "+cfg.Out+" --resume to continue from the last checkpoint")
			return exitSignal
		}
		return trainFail("train", err)
	}
	printJSON(res)
	return exitOK
}

// trainFail prints a trainer error once prefixed and returns its exit code:
// 2 for a configuration the user must change, 130 for an interruption.
func trainFail(verb string, err error) int {
	code := exitAborted
	if ce := (*train.ConfigError)(nil); errors.As(err, &ce) {
		code = exitUsage
	}
	if errors.Is(err, context.Canceled) {
		code = exitSignal
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "train:") {
		msg = verb + ": " + msg
	}
	return fail(code, "%s", msg)
}

func runEval(ctx context.Context, args []string) int {
	fs := newFlags("eval", "--run RUNDIR --shards DIR [--split test]")
	run := fs.String("run", "", "run `folder` written by avbalance train")
	shards := fs.String("shards", "", "extraction output `folder`")
	split := fs.String("split", "test", "`split` to evaluate: train, val or test")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if *run == "" || *shards == "" {
		return fail(exitUsage, "eval needs --run and --shards")
	}
	m, err := train.Eval(ctx, *run, *shards, *split)
	if err != nil {
		return trainFail("eval", err)
	}
	printJSON(m)
	warnOtherData("eval", *run, *shards)
	return exitOK
}

// warnOtherData says on stderr when shards are not the data the run was
// trained on (allowed for eval and attribute once they checked the preset,
// shapes and classes).
func warnOtherData(verb, run, shards string) {
	src, err := train.OpenShards(shards)
	if err != nil {
		return // the verb reports it
	}
	defer src.Close()
	if same, err := train.SameData(run, src); err == nil && !same {
		fmt.Fprintf(os.Stderr, "avbalance: %s: note: %s are not the shards %s was trained on (same preset, shapes and classes)\n", verb, shards, run)
	}
}

func runAttribute(ctx context.Context, args []string) int {
	fs := newFlags("attribute", "--run RUNDIR --shards DIR [--out DIR] [flags]")
	var ac train.AttributeConfig
	fs.StringVar(&ac.RunDir, "run", "", "run `folder` written by avbalance train (a fusion mode)")
	fs.StringVar(&ac.Shards, "shards", "", "extraction output folder")
	fs.StringVar(&ac.Split, "split", "test", "split to attribute")
	fs.StringVar(&ac.Out, "out", "", "report folder for shares.csv and summary.json (default RUNDIR/attribution-SPLIT)")
	var quantity attribution.Quantity
	var norm attribution.Norm
	fs.Var(&ac.Method, "method", "attribution `method`: gradinput (Grad×Input), ig (Integrated Gradients on the embeddings) or ig-input (Integrated Gradients on the raw inputs); default the run's --attr-method")
	fs.IntVar(&ac.Steps, "steps", 0, "ig, ig-input: integration steps (ig-input: use 256 or more for completeness within ~1%); default the run's --attr-steps for ig on an ig run, else 32")
	fs.Var(&ac.Baseline, "baseline", "ig, ig-input: `baseline` embedding or input, zero or mean (of the split); default the run's --attr-baseline")
	fs.Var(&quantity, "quantity", "attribute the `quantity` logit (raw), logprob, centered (logit minus the class mean) or margin (to the runner-up); default the run's --attr-quantity")
	fs.Var(&norm, "norm", "pool attributions with the `norm` l2, l1, net (signed sum clipped at 0: the net contribution) or net-abs; default the run's --attr-norm")
	fs.Var(&ac.Class, "class", "attribute the true or the predicted `class`; default the run's --attr-class")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "quantity":
			ac.Quantity = &quantity
		case "norm":
			ac.Norm = &norm
		}
	})
	if ac.RunDir == "" || ac.Shards == "" {
		return fail(exitUsage, "attribute needs --run and --shards")
	}
	if ac.Out == "" {
		ac.Out = ac.RunDir + "/attribution-" + ac.Split
	}
	ac.Progress = os.Stderr
	sum, err := train.Attribute(ctx, ac)
	if err != nil {
		return trainFail("attribute", err)
	}
	warnOtherData("attribute", ac.RunDir, ac.Shards)
	printJSON(sum)
	return exitOK
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
