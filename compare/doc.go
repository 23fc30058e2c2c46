// Package compare runs the field's evaluation protocol on any shards: every
// balancing method (the unimodal references included) trained with every
// seed, each run's epoch selected on the val split and evaluated on test,
// and the methods put side by side — test accuracy, macro-F1, mAP, each
// modality's attribution share, probe, ablation and Shapley contribution,
// the linear probe of each frozen encoder, seconds and CPU-seconds, as mean
// ± std over seeds.
//
// A comparison is resumable: a run folder whose config.json and shards are
// the ones the comparison would train is reused when complete and
// continued from its checkpoint when not; a folder holding another run
// stops the comparison (or, with Config.Retrain, is trained again). Seeds
// change initialisation, shuffling and a method's noise, never the split:
// the shards are extracted once. The protocol refuses shards without a val
// split unless Config.Select is SelectLast, and the table states the split
// policy found in the rows (for CREMA-D: whether any actor is in both train
// and test).
//
// # Layout of Config.Out
//
//	table.md, table.csv, results.json, report.html, plots/*.png
//	runs/METHOD/seed-S/  config.json, metrics.jsonl, checkpoint.bin, best.bin, result.json,
//	                     run.json (compare's record), attribution-test/{shares.csv,summary.json}
//
// Example:
//
//	cfg := compare.DefaultConfig()
//	cfg.Shards, cfg.Out, cfg.Progress = "shards/cremad", "compare/cremad", os.Stderr
//	cfg.Params = []compare.Param{{Method: train.ModeAttrReg, Name: "lambda", Value: "3"}}
//	rep, err := compare.Run(ctx, cfg)
//	fmt.Print(rep.Table())
package compare
