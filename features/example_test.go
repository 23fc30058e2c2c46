package features_test

import (
	"fmt"
	"math"

	"github.com/avbalance/avbalance/features"
)

func Example() {
	p, err := features.Lookup("tiny")
	if err != nil {
		panic(err)
	}
	p = p.WithSeconds(2) // a CLI override: 2 s windows instead of 1 s
	if err := p.Validate(); err != nil {
		panic(err)
	}
	e := features.NewExtractor(p)  // once per worker
	clip := make([]float32, 12000) // 0.75 s of a 440 Hz tone: tiled to 2 s
	for i := range clip {
		clip[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	feat, err := e.Audio(clip, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.AudioShape(), len(feat), p.FrameShape())
	// Output: [40 200] 8000 [3 32 32 3]
}
