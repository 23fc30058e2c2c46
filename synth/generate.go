package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Clip is one generated clip, as listed in manifest.csv.
type Clip struct {
	ID    string `json:"id"`
	Path  string `json:"path"`  // slash-separated, relative to Result.Dir (the manifest's folder)
	Label int    `json:"label"` // class id; Result.Labels[Label] is its name
	Split string `json:"split"` // "train", "val" or "test"
}

// Result describes a finished generation.
type Result struct {
	Dir        string        // Config.Out
	Manifest   string        // Dir/manifest.csv
	Info       string        // Dir/synth.json
	Labels     []string      // class names, index = label id (pass as ingest.ManifestOptions.Labels)
	Clips      []Clip        // in id order
	VideoCodec string        // video encoder used: "libx264" or "mpeg4"
	Config     Config        // the configuration with defaults applied
	Elapsed    time.Duration // wall time of Generate
}

// File names inside Config.Out.
const (
	ManifestFile = "manifest.csv"
	InfoFile     = "synth.json"
	ClipsDir     = "clips"
)

// Generate writes cfg.Clips encoded clips to cfg.Out/clips, then cfg.Out/manifest.csv and
// cfg.Out/synth.json. Clips are rendered and encoded in cfg.Workers goroutines, one clip and one
// encoder thread each. Existing files of the same names are replaced (each clip is written to a
// temporary name and renamed). A configuration error is returned before anything is written; the
// first encoding or file error (which names the clip and path) or ctx's cancellation stops the run.
func Generate(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	vcodec, err := pickVideoCodec(cfg.VideoCodec)
	if err != nil {
		return nil, err
	}
	cfg.VideoCodec = vcodec.Name() // synth.json records the encoder actually used
	if err := os.MkdirAll(filepath.Join(cfg.Out, ClipsDir), 0o755); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	clips := plan(cfg)

	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan int)
	g.Go(func() error {
		defer close(jobs)
		for i := range clips {
			select {
			case jobs <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range min(cfg.Workers, max(1, len(clips))) {
		g.Go(func() error {
			r := newRenderer(cfg)
			enc, err := newEncoder(cfg, vcodec)
			if err != nil {
				return err
			}
			defer enc.close()
			for i := range jobs {
				if err := gctx.Err(); err != nil {
					return err
				}
				cl := clips[i]
				r.render(i, cl.Label)
				dst := filepath.Join(cfg.Out, filepath.FromSlash(cl.Path))
				tmp := dst + ".tmp"
				if err := enc.encode(tmp, r.audio, r.rgb); err != nil {
					_ = os.Remove(tmp)
					return fmt.Errorf("synth: clip %s (%s): %w", cl.ID, dst, err)
				}
				if err := os.Rename(tmp, dst); err != nil {
					_ = os.Remove(tmp)
					return fmt.Errorf("synth: clip %s: %w", cl.ID, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	res := &Result{
		Dir:        cfg.Out,
		Manifest:   filepath.Join(cfg.Out, ManifestFile),
		Info:       filepath.Join(cfg.Out, InfoFile),
		Labels:     cfg.Labels(),
		Clips:      clips,
		VideoCodec: cfg.VideoCodec,
		Config:     cfg,
	}
	if err := atomicfile.Write(res.Manifest, manifestCSV(res)); err != nil {
		return nil, err
	}
	info, err := infoJSON(res)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(res.Info, info); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// plan assigns ids, paths, balanced labels and per-class stratified splits, all fixed by the seed.
func plan(cfg Config) []Clip {
	var pcg rand.PCG
	seedRNG(&pcg, cfg.Seed, streamPlan, 0)
	rng := rand.New(&pcg)
	labels := make([]int, cfg.Clips)
	for i := range labels {
		labels[i] = i % cfg.Classes
	}
	rng.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })

	width := max(5, len(strconv.Itoa(cfg.Clips-1)))
	clips := make([]Clip, cfg.Clips)
	byClass := make([][]int, cfg.Classes)
	for i := range clips {
		id := fmt.Sprintf("synth-%0*d", width, i)
		clips[i] = Clip{ID: id, Path: path.Join(ClipsDir, id+".mp4"), Label: labels[i], Split: "train"}
		byClass[labels[i]] = append(byClass[labels[i]], i)
	}
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		nVal := int(math.Round(cfg.ValFrac * float64(len(idx))))
		nTest := int(math.Round(cfg.TestFrac * float64(len(idx))))
		for k, i := range idx {
			switch {
			case k < nVal:
				clips[i].Split = "val"
			case k < nVal+nTest:
				clips[i].Split = "test"
			}
		}
	}
	return clips
}

// manifestCSV renders the manifest: header id,path,label,split with the label as its name.
func manifestCSV(res *Result) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"id", "path", "label", "split"})
	for _, c := range res.Clips {
		_ = w.Write([]string{c.ID, c.Path, res.Labels[c.Label], c.Split})
	}
	w.Flush()
	return b.Bytes()
}

// info is the content of synth.json.
type info struct {
	Generator           string         `json:"generator"`
	Version             int            `json:"version"`
	Design              string         `json:"design"`
	Config              Config         `json:"config"`
	Labels              []string       `json:"labels"`
	Pairs               int            `json:"pairs"`
	PairToneHz          []float64      `json:"pair_tone_hz"`
	ClassOrientationDeg []float64      `json:"class_orientation_deg"`
	Frames              int            `json:"frames_per_clip"`
	Samples             int            `json:"samples_per_clip"`
	VideoCodec          string         `json:"video_codec"`
	AudioCodec          string         `json:"audio_codec"`
	Container           string         `json:"container"`
	Splits              map[string]int `json:"splits"`
}

const design = "audio: a tone at the pair's frequency (pair = label/2) in white noise, nothing about the member; " +
	"video: a faint drifting grating whose orientation encodes the class (members 90° apart, pairs pair_spread·90°/pairs apart) " +
	"over noise and coloured distractors. Audio-only accuracy saturates near 1/2; video alone or fused can reach ~1."

func infoJSON(res *Result) ([]byte, error) {
	cfg := res.Config
	in := info{
		Generator: "avbalance/synth", Version: 1, Design: design, Config: cfg, Labels: res.Labels,
		Pairs: cfg.Pairs(), Frames: cfg.frames(), Samples: cfg.samples(),
		VideoCodec: res.VideoCodec, AudioCodec: "aac", Container: "mp4",
		Splits: map[string]int{"train": 0, "val": 0, "test": 0},
	}
	for p := range cfg.Pairs() {
		in.PairToneHz = append(in.PairToneHz, cfg.PairToneHz(p))
	}
	for k := range cfg.Classes {
		in.ClassOrientationDeg = append(in.ClassOrientationDeg, cfg.ClassOrientationDeg(k))
	}
	for _, c := range res.Clips {
		in.Splits[c.Split]++
	}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("synth: encoding %s: %w", InfoFile, err)
	}
	return append(b, '\n'), nil
}
