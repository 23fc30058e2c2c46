// Command avbalance-beam runs `avbalance extract` as an Apache Beam pipeline:
// the same flags, the same output folder (shard-*.arrow, index.json,
// failures.jsonl), on any Beam runner and filesystem.
//
//	avbalance-beam --dataset manifest --manifest clips.csv --preset default --out /data/feat            # prism, in-process
//	avbalance-beam --dataset cremad --root /mnt/crema --preset ogmge-cremad --out gs://b/feat \
//	    --runner dataflow --project P --region R --temp_location gs://b/tmp --sdk_container_image IMAGE
//
// Beam's own flags (--runner, --endpoint, --environment_type, --job_name, …)
// sit beside ours. The binary is also its own worker: a runner starts it with
// --worker, and `avbalance-beam --worker_pool :PORT` serves as the worker pool
// of an EXTERNAL environment (--environment_type EXTERNAL
// --environment_config HOST:PORT).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"   // the --runner flag
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx" // links every runner: prism, flink, spark, dataflow, universal
	"github.com/asticode/go-astiav"

	"github.com/avbalance/avbalance/beam/extract"
	"github.com/avbalance/avbalance/beam/workerpool"
	"github.com/avbalance/avbalance/internal/exitcode"
	"github.com/avbalance/avbalance/internal/extractflags"
)

// Exit codes, part of the CLI contract (package exitcode).
const (
	exitOK       = exitcode.OK
	exitAborted  = exitcode.Aborted
	exitUsage    = exitcode.Usage
	exitFailures = exitcode.Failures
)

func main() {
	os.Exit(run())
}

func run() int {
	sel := extractflags.Register(flag.CommandLine, "dataset folder: CREMA-D root (VideoFlash/, AudioWAV/ or flat .flv files) or the VGGSound clips folder; must be readable by the workers")
	out := flag.String("out", "", "output folder on a Beam filesystem: /local/dir, gs://bucket/dir or s3://bucket/dir")
	shards := flag.Int("shards", 0, "number of shard files N, a clip goes to shard hash(id) mod N (0 = about 256 MB per shard)")
	workers := flag.Int("workers", 0, "clips decoded at once by each shard step (0 = one per CPU on prism in-process, 1 on other runners, which run an instance per core)")
	pool := flag.String("worker_pool", "", "serve as the Beam worker pool of an EXTERNAL environment on `HOST:PORT` (or :PORT) until stopped; submits nothing")
	boot := workerpool.RegisterBootFlags()
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: avbalance-beam --dataset cremad|vggsound|manifest --root DIR [--csv FILE] [--manifest FILE] --preset NAME --out DIR [--shards N] [--resume] [--runner prism|universal|flink|spark|dataflow] [beam flags]\n"+
			"       avbalance-beam --worker_pool :PORT\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	workerpool.Cleanup() // a worker started by Boot removes its staged copy
	// Per-clip decode problems are recorded in failures.jsonl; FFmpeg's own log
	// lines would only bury the output. AVBALANCE_FFMPEG_LOG=1 shows them.
	// Set before beam.Init, so workers are quiet too.
	if os.Getenv("AVBALANCE_FFMPEG_LOG") == "" {
		astiav.SetLogLevel(astiav.LogLevelFatal)
	}
	beam.Init() // when started as a Beam worker, this runs the worker and never returns

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case boot.IsBoot():
		return fail(exitAborted, "%v", boot.Boot(ctx)) // Boot returns only on an error
	case *pool != "":
		fmt.Fprintf(os.Stderr, "avbalance-beam: worker pool on %s; submit jobs with --environment_type EXTERNAL --environment_config HOST:PORT\n", *pool)
		if err := workerpool.Serve(ctx, *pool); err != nil {
			return fail(exitUsage, "%v", err)
		}
		return exitOK
	}

	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "avbalance-beam: unexpected arguments %q\n", flag.Args())
		return exitUsage
	}
	preset, err := sel.Preset()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if *out == "" {
		return fail(exitUsage, "--out is required")
	}
	cfg := extract.Config{
		Input:  sel.Input,
		Preset: preset, Out: *out, Shards: *shards, Seed: sel.Input.Seed, Workers: *workers,
		ClipTimeout: sel.ClipTimeout(), Resume: sel.Resume,
	}
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	ds, err := cfg.Input.Read()
	if err != nil {
		return fail(exitUsage, "%s: %v", sel.Input.Dataset, err)
	}
	runner := *runners.Runner
	if runner == "" {
		runner = "prism"
	}
	if cfg.Workers == 0 {
		cfg.Workers = extract.DefaultWorkers(runner)
	}
	// This binary is its own worker (Beam would cross-compile one without cgo,
	// which cannot link FFmpeg). In-process prism ignores it.
	if *jobopts.WorkerBinary == "" {
		if self, err := os.Executable(); err == nil {
			*jobopts.WorkerBinary = self
		}
	}
	fmt.Fprintf(os.Stderr, "extract: %d clips (%d rejected up front) from %s, preset %s, %d shards, runner %s, %d decoders per shard step → %s\n",
		len(ds.Clips)+len(ds.Rejected), len(ds.Rejected), ds.Name, preset.Name, cfg.ShardCount(len(ds.Clips)), runner, cfg.Workers, *out)

	sum, err := extract.RunDataset(ctx, runner, cfg, ds)
	if ue := (*extract.UsageError)(nil); errors.As(err, &ue) {
		return fail(exitUsage, "%v", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "avbalance-beam: interrupted; run the same command with --resume to finish\n")
			return exitcode.Signal
		}
		return fail(exitAborted, "extract: %v", err)
	}
	if sum == nil {
		fmt.Fprintf(os.Stderr, "extract: job submitted; %s/index.json appears when it is done\n", *out)
		return exitOK
	}
	fmt.Printf("clips_total %d  clips_ok %d  clips_failed %d  shards %d  %.1fs\n",
		sum.Total, sum.OK, sum.Failed, sum.Shards, sum.Elapsed.Seconds())
	if sum.Failed > 0 {
		fmt.Fprintf(os.Stderr, "extract: %d clips failed: see %s/failures.jsonl\n", sum.Failed, *out)
		return exitFailures
	}
	return exitOK
}

func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "avbalance-beam: "+format+"\n", a...)
	return code
}
