package train_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"github.com/avbalance/avbalance/train"
)

// memExamples is a small learnable set: the class is a bright row of the
// spectrogram and a bright colour channel of the frames.
func memExamples() *train.MemExamples {
	r := rand.New(rand.NewPCG(1, 2))
	src := &train.MemExamples{Audio: []int{6, 8}, Frame: []int{1, 8, 8, 3}, Names: []string{"low", "mid", "high"}}
	for i := 0; i < 48; i++ {
		y := i % 3
		split := [...]string{"train", "train", "train", "train", "val", "test"}[i%6]
		ex := train.Example{ClipID: fmt.Sprintf("clip%02d", i), Label: y, Split: split,
			Audio: make([]float32, 6*8), Frames: make([]byte, 8*8*3)}
		for j := range ex.Audio {
			ex.Audio[j] = float32(r.NormFloat64()) + 2*float32(btoi(j/8 == 2*y))
		}
		for j := range ex.Frames {
			ex.Frames[j] = byte(60 + r.IntN(40) + 120*btoi(j%3 == y))
		}
		src.Clips = append(src.Clips, ex)
	}
	return src
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Training an attribution-regularized fusion model on an in-memory source:
// the run folder gets the configuration, the metrics of every epoch and the
// test metrics of the epoch chosen on val.
func ExampleRunExamples() {
	dir, err := os.MkdirTemp("", "train-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg, err := train.NewConfig(train.ModeAttrReg)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Out, cfg.Embed, cfg.Batch, cfg.Epochs, cfg.Optimizer, cfg.LR = dir, 8, 8, 3, train.OptAdam, 3e-3
	if err := cfg.SetParam("lambda", "0.5"); err != nil {
		log.Fatal(err)
	}
	res, err := train.RunExamples(context.Background(), cfg, memExamples())
	if err != nil {
		log.Fatal(err)
	}
	ms, err := train.ReadMetrics(dir)
	if err != nil {
		log.Fatal(err)
	}
	shares := res.Test.AudioShare + res.Test.VideoShare
	fmt.Printf("%d metric lines, %d test clips, shares sum to %.1f, real use measured: %t\n",
		len(ms), res.Test.Clips, shares, res.Test.RealUse != nil)
	// Output: 6 metric lines, 8 test clips, shares sum to 1.0, real use measured: true
}

// The registered modes and the hyperparameters of one of them.
func ExampleMethods() {
	for _, info := range train.Methods() {
		fmt.Println(info.Mode)
	}
	info, err := train.LookupMethod(train.ModeOGMGE)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.MethodFlags(info.NewConfig()))
	// Output:
	// audio
	// video
	// concat
	// agm
	// attr-reg
	// mmpareto
	// ogm-ge
	// pmr
	// umt
	// [alpha ge-noise ogm-end ogm-start]
}
