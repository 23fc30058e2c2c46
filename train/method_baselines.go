package train

// The unimodal baselines and naive fusion: the cross-entropy alone.

// Baseline modes.
const (
	ModeAudio  Mode = "audio"  // the audio encoder and a linear head
	ModeVideo  Mode = "video"  // the video encoder and a linear head
	ModeConcat Mode = "concat" // naive fusion
)

func init() {
	baseline := func(mode Mode, uses Modalities, summary string) {
		RegisterMethod(MethodInfo{Mode: mode, Summary: summary, Uses: uses,
			NewConfig: func() MethodConfig { return &NoParams{} },
			New:       func(*Config) (Method, error) { return NoHooks{}, nil }})
	}
	baseline(ModeAudio, AudioOnly, "unimodal baseline: the audio encoder and a linear head")
	baseline(ModeVideo, VideoOnly, "unimodal baseline: the video encoder and a linear head")
	baseline(ModeConcat, Both, "naive fusion: both encoders, the fusion head, cross-entropy alone")
}
