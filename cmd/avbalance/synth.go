package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/avbalance/avbalance/internal/extractflags"
	"github.com/avbalance/avbalance/synth"
)

func runSynth(ctx context.Context, args []string) int {
	fs := newFlags("synth", "--out DIR [--clips N] [--seed S] [flags]")
	d := synth.Config{}.WithDefaults()
	cfg := synth.Config{}
	fs.StringVar(&cfg.Out, "out", "", "output folder `DIR`: clips/*.mp4, manifest.csv, synth.json")
	fs.IntVar(&cfg.Clips, "clips", d.Clips, "number of clips, `N`")
	fs.Var(&cfg.Seed, "seed", "`seed` of labels, splits and every clip's signals")
	fs.IntVar(&cfg.Classes, "classes", d.Classes, "number of classes, `N` (even: pairs told apart by audio, members by video)")
	fs.Float64Var(&cfg.Seconds, "seconds", d.Seconds, "clip length in seconds, `S`")
	size := fs.Int("size", d.Width, "frame width and height in pixels, `PX` (even)")
	fs.IntVar(&cfg.FPS, "fps", d.FPS, "video frame rate, `N` per second")
	fs.StringVar(&cfg.VideoCodec, "codec", "", "video encoder: libx264 or mpeg4 (default: "+defaultCodecHelp()+")")
	fs.IntVar(&cfg.Workers, "workers", 0, "clips encoded at once, `N` (0 = one per CPU)")
	cfg.Cues = synth.DefaultCues()
	fs.Float64Var(&cfg.Cues.AudioSNRdB, "audio-snr", cfg.Cues.AudioSNRdB, "tone power over noise power, `DB` (lower: a weaker audio cue)")
	fs.Float64Var(&cfg.Cues.CueContrast, "cue-contrast", cfg.Cues.CueContrast, "grating amplitude `C`, (0, 0.5] of the luminance range (lower: a weaker video cue)")
	fs.Float64Var(&cfg.Cues.StripePeriod, "stripe-period", cfg.Cues.StripePeriod, "grating period `P`, a share of the frame size")
	fs.Float64Var(&cfg.Cues.PairSpread, "pair-spread", cfg.Cues.PairSpread, "how far apart the pairs' orientations are, `S` in [0, 1] (0: video tells only the member)")
	quiet := fs.Bool("quiet", false, "no summary line on stderr")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	if cfg.Out == "" {
		return fail(exitUsage, "synth: --out is required")
	}
	if st, err := os.Stat(cfg.Out); err == nil && !st.IsDir() {
		return fail(exitUsage, "synth: --out %s is a file, not a folder", cfg.Out)
	}
	// synth.Config takes 0 for "the default": a 0 given on the command line is an error.
	if err := extractflags.CheckPositive(fs, "clips", "classes", "seconds", "size", "fps"); err != nil {
		return fail(exitUsage, "synth: %v", err)
	}
	cfg.Width, cfg.Height = *size, *size
	if err := cfg.Validate(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	res, err := synth.Generate(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return exitSignal
		}
		return fail(exitAborted, "%v", err)
	}
	splits := map[string]int{}
	for _, c := range res.Clips {
		splits[c.Split]++
	}
	if !*quiet {
		fmt.Fprintf(os.Stderr, "synth: %d clips (%s video, AAC audio), %d classes, train %d / val %d / test %d in %.1fs\n",
			len(res.Clips), res.VideoCodec, len(res.Labels), splits["train"], splits["val"], splits["test"], res.Elapsed.Seconds())
	}
	fmt.Println(res.Manifest)
	return exitOK
}

func defaultCodecHelp() string { return "libx264 when available, else mpeg4" }
