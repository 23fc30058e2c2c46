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
	"strings"
	"syscall"

	"github.com/asticode/go-astiav"
	"github.com/avbalance/avbalance/internal/exitcode"
	"github.com/avbalance/avbalance/pipeline"
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
		{"train", "train a unimodal baseline or a fusion model with a balancing method from shards", runTrain, true},
		{"eval", "evaluate a trained run on a split of a shard folder", runEval, true},
		{"attribute", "per-clip audio/video attribution shares of a trained run (CSV + summary)", runAttribute, true},
		{"compare", "train every method × seed on shards, select on val, report test: table, results.json, report.html", runCompare, true},
		{"demo", "synth → extract → train every mode → table and report.html", runDemo, true},
	}
}

func usage() {
	fmt.Fprint(os.Stderr, "avbalance: audio-visual feature extraction and modality-balanced fusion training\n\nUsage: avbalance VERB [flags]\n\nVerbs:\n")
	for _, v := range verbs {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", v.name, v.summary)
	}
	fmt.Fprint(os.Stderr, "\nRun `avbalance VERB --help` for a verb's flags, `avbalance --version` for the version.\nExit codes: 0 done, 2 bad usage, 3 done with some clips failed, 130 interrupted, other non-zero aborted.\n")
}

// version is the program version (pipeline.Tool, also written into index.json) and the build:
// the module version Go stamps from the VCS (a tag, or a pseudo-version with the commit and
// "+dirty"), else the VCS revision, else "devel".
func version() string {
	build, goVersion := "devel", "go"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			build = v
		} else {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" {
				build = "devel " + rev[:min(len(rev), 12)]
				if modified == "true" {
					build += "+dirty"
				}
			}
		}
	}
	return fmt.Sprintf("%s (build %s, %s)", pipeline.Tool, build, goVersion)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	name := os.Args[1]
	switch name {
	case "help", "-h", "-help", "--help":
		usage()
		os.Exit(exitOK)
	case "version", "-version", "--version":
		fmt.Println(version())
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

// parse parses the flags of a verb that takes no positional argument; it returns a
// non-negative exit code when the verb must stop. Every verb goes through it (or parseArgs),
// so a stray word, which would make the flag package stop and silently ignore every flag
// after it, is a usage error naming it.
func parse(fs *flag.FlagSet, args []string) int { return parseArgs(fs, args) }

// parseArgs is parse for a verb that takes exactly the positional arguments named (after the
// flags, e.g. "DIR").
func parseArgs(fs *flag.FlagSet, args []string, names ...string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case fs.NArg() > len(names):
		extra := fs.Args()[len(names):]
		msg := fmt.Sprintf("unexpected argument %q", extra[0])
		if len(extra) > 1 {
			msg += fmt.Sprintf(" (the %d arguments after it, %s, were not read)", len(extra)-1, strings.Join(extra[1:], " "))
		}
		if len(names) == 0 {
			return fail(exitUsage, "%s: %s: it takes only flags (see avbalance %s --help)", fs.Name(), msg, fs.Name())
		}
		return fail(exitUsage, "%s: %s: it takes %s and flags (see avbalance %s --help)", fs.Name(), msg, strings.Join(names, " "), fs.Name())
	case fs.NArg() < len(names):
		return fail(exitUsage, "%s: missing %s (usage: avbalance %s %s [flags])", fs.Name(), strings.Join(names[fs.NArg():], " "), fs.Name(), strings.Join(names, " "))
	}
	return -1
}

// fail prints an error and returns the exit code for it.
func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "avbalance: "+format+"\n", a...)
	return code
}
