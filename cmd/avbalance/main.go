// Command avbalance turns audio-visual datasets into Arrow feature shards and
// trains fusion classifiers whose reliance on each modality is measured and
// steered by attribution regularization. Run `avbalance help` for the verbs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/asticode/go-astiav"
	"github.com/avbalance/avbalance/internal/exitcode"
)

// Exit codes, part of the CLI contract (package exitcode).
const (
	exitOK       = exitcode.OK
	exitAborted  = exitcode.Aborted
	exitUsage    = exitcode.Usage
	exitFailures = exitcode.Failures
	exitSignal   = exitcode.Signal
)

type verb struct {
	name, summary string
	run           func(ctx context.Context, args []string) int
	trains        bool // builds training graphs: see trainingGC
}

var verbs []verb

func init() {
	verbs = []verb{
		{"extract", "decode clips and write feature shards (CREMA-D, VGGSound, any manifest)", runExtract, false},
		{"inspect", "print a shard folder's schema, counts, labels and shapes; verify checksums", runInspect, false},
		{"synth", "generate an audio-visual set with a built-in modality imbalance", runSynth, false},
		{"train", "train a unimodal, fusion, OGM-GE or attribution-regularized model from shards", runTrain, true},
		{"eval", "evaluate a trained run on a split of a shard folder", runEval, true},
		{"attribute", "per-clip audio/video attribution shares of a trained run (CSV + summary)", runAttribute, true},
		{"demo", "synth → extract → train every mode → table and report.html", runDemo, true},
	}
}

func usage() {
	fmt.Fprint(os.Stderr, "avbalance: audio-visual feature extraction and modality-balanced fusion training\n\nUsage: avbalance VERB [flags]\n\nVerbs:\n")
	for _, v := range verbs {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", v.name, v.summary)
	}
	fmt.Fprint(os.Stderr, "\nRun `avbalance VERB --help` for a verb's flags.\nExit codes: 0 done, 2 bad usage, 3 done with some clips failed, other non-zero aborted.\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	name := os.Args[1]
	if name == "help" || name == "-h" || name == "--help" {
		usage()
		os.Exit(exitOK)
	}
	// Per-clip decode problems are recorded in failures.jsonl; FFmpeg's own log
	// lines would only bury the progress output. AVBALANCE_FFMPEG_LOG=1 shows them.
	if os.Getenv("AVBALANCE_FFMPEG_LOG") == "" {
		astiav.SetLogLevel(astiav.LogLevelFatal)
	}
	for _, v := range verbs {
		if v.name == name {
			if v.trains {
				trainingGC()
			}
			ctx, stop := signalContext()
			code := v.run(ctx, os.Args[2:])
			if code == exitOK || code == exitFailures {
				if ctx.Err() != nil {
					code = exitSignal
				}
			}
			stop()
			os.Exit(code)
		}
	}
	fmt.Fprintf(os.Stderr, "avbalance: unknown verb %q\n\n", name)
	usage()
	os.Exit(exitUsage)
}

// trainingGC makes the garbage collector run when the heap has grown by 20% rather than 100% (unless
// GOGC says otherwise): a trainer's heap is mostly its ops' activations and work buffers, kept for the
// whole run, and with the default a long run lets its little garbage (0.4 MB a step) grow to their
// size before the first collection, doubling the peak RSS. Those buffers hold no pointers, so a
// collection costs little.
func trainingGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM so work can stop
// cleanly; a second signal exits at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		fmt.Fprintln(os.Stderr, "\navbalance: stopping after the clips in flight (press Ctrl-C again to quit now)")
		cancel()
		<-ch
		os.Exit(exitSignal)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// newFlags makes a verb's flag set with a usage line that names the verb.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: avbalance %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns a non-negative exit code when the verb must stop.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}

// fail prints an error and returns the exit code for it.
func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "avbalance: "+format+"\n", a...)
	return code
}
