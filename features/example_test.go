package features_test

import (
	"fmt"
	"log"

	"github.com/avbalance/avbalance/features"
)

// A named preset, as `avbalance extract --preset` looks it up, and the shapes
// of the features it writes.
func ExampleLookup() {
	p, err := features.Lookup("ogmge-cremad")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Feature, p.SampleRate, "Hz")
	fmt.Println("audio", p.AudioShape(), "frames", p.FrameShape())
	// Output:
	// logstft 22050 Hz
	// audio [257 188] frames [1 224 224 3]
}

// A preset with `--frames`, `--size` and `--seconds` overrides applied.
func ExampleLookupWith() {
	p, err := features.LookupWith("tiny", features.Overrides{Frames: 2, Size: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("audio", p.AudioShape(), "frames", p.FrameShape())
	// Output: audio [40 100] frames [2 16 16 3]
}
