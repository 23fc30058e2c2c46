package train

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// synthSource makes a learnable data set: the audio carries the label in
// one frequency band, the frames in one colour channel, both with noise.
func synthSource(n int, seed uint64) *MemSource {
	r := rand.New(rand.NewPCG(seed, 7))
	src := &MemSource{Audio: []int{8, 12}, Frame: []int{2, 8, 8, 3}, Names: []string{"a", "b", "c"}}
	for i := 0; i < n; i++ {
		y := i % 3
		split := "train"
		switch i % 10 {
		case 7, 8:
			split = "val"
		case 9:
			split = "test"
		}
		ex := Example{ClipID: fmt.Sprintf("clip%03d", i), Label: y, Split: split,
			Audio: make([]float32, 8*12), Frames: make([]byte, 2*8*8*3)}
		for j := range ex.Audio {
			ex.Audio[j] = float32(r.NormFloat64() * 0.5)
			if (j/12)%3 == y {
				ex.Audio[j] += 1
			}
		}
		for j := range ex.Frames {
			v := 60 + r.IntN(60)
			if j%3 == y {
				v += 100
			}
			ex.Frames[j] = byte(v)
		}
		src.Clips = append(src.Clips, ex)
	}
	return src
}

func tinyConfig(dir, mode string) Config {
	c := DefaultConfig()
	c.Out, c.Mode, c.Embed, c.Batch, c.Epochs, c.LR, c.Optimizer = dir, mode, 8, 8, 2, 3e-3, OptAdam
	return c
}

func readMetrics(t *testing.T, path string) []Metrics {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Metrics
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m Metrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		m.Seconds = 0
		out = append(out, m)
	}
	return out
}

func TestRunAllModes(t *testing.T) {
	src := synthSource(60, 1)
	for _, mode := range []string{ModeAudio, ModeVideo, ModeConcat, ModeOGMGE, ModeAttrReg} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(dir, mode)
			res, err := RunSource(context.Background(), cfg, src)
			if err != nil {
				t.Fatal(err)
			}
			if res.Test == nil || res.Val == nil {
				t.Fatalf("result without val/test: %+v", res)
			}
			ms := readMetrics(t, filepath.Join(dir, MetricsFile))
			if len(ms) != 4 {
				t.Fatalf("%d metric lines, want 4 (train+val × 2 epochs)", len(ms))
			}
			for _, f := range []string{CheckpointFile, BestFile, ResultFile, "config.json"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			m, err := EvalSource(context.Background(), dir, src, "test")
			if err != nil {
				t.Fatal(err)
			}
			m.Seconds, res.Test.Seconds = 0, 0
			if !reflect.DeepEqual(*m, *res.Test) {
				t.Errorf("Eval differs from result.json:\n%+v\n%+v", *m, *res.Test)
			}
			t.Logf("%s: train acc %.2f → %.2f, test acc %.2f, audio share %.2f", mode, ms[0].Accuracy, ms[2].Accuracy, res.Test.Accuracy, res.Test.AudioShare)
		})
	}
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	src := synthSource(40, 2)
	for _, mode := range []string{ModeAttrReg, ModeOGMGE} {
		full, part := t.TempDir(), t.TempDir()
		cfg := tinyConfig(full, mode)
		cfg.Epochs = 3
		want, err := RunSource(context.Background(), cfg, src)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Out, cfg.Epochs = part, 2
		if _, err := RunSource(context.Background(), cfg, src); err != nil {
			t.Fatal(err)
		}
		cfg.Epochs, cfg.Resume = 3, true
		got, err := RunSource(context.Background(), cfg, src)
		if err != nil {
			t.Fatal(err)
		}
		want.Test.Seconds, got.Test.Seconds, want.Val.Seconds, got.Val.Seconds = 0, 0, 0, 0
		got.RunDir = want.RunDir
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: resumed result differs:\n%+v\n%+v", mode, *want.Test, *got.Test)
		}
		if a, b := readMetrics(t, filepath.Join(full, MetricsFile)), readMetrics(t, filepath.Join(part, MetricsFile)); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: metrics.jsonl differs after resume", mode)
		}
	}
}

func TestAttributeReport(t *testing.T) {
	src := synthSource(40, 3)
	dir := t.TempDir()
	if _, err := RunSource(context.Background(), tinyConfig(dir, ModeConcat), src); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"gradinput", "ig"} {
		out := filepath.Join(dir, "attr-"+method)
		s, err := AttributeSource(context.Background(), AttributeConfig{RunDir: dir, Split: "test", Out: out, Method: method, Baseline: "mean"}, src)
		if err != nil {
			t.Fatal(err)
		}
		if s.Clips != 4 || s.MeanAudio+s.MeanVideo < 0.999 || s.MeanAudio+s.MeanVideo > 1.001 {
			t.Errorf("%s: summary %+v", method, s)
		}
		for _, f := range []string{"shares.csv", "summary.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
	}
}
