package ingest

// Split names a reader assigns to Clip.Split.
const (
	SplitTrain = "train"
	SplitVal   = "val"
	SplitTest  = "test"
)

// Clip describes one input clip: where its media is, its label and its split.
// Dataset readers only produce clips; every later stage reads this description.
type Clip struct {
	ID        string `json:"clip_id"`
	Path      string `json:"path"`                 // media file holding video (and audio unless AudioPath is set)
	AudioPath string `json:"audio_path,omitempty"` // optional separate audio file (e.g. CREMA-D AudioWAV)
	Label     int    `json:"label"`                // index into Dataset.Labels
	Split     string `json:"split"`                // "train", "val", "test" or "" when the reader assigns none
	Source    string `json:"source"`               // dataset name: "cremad", "vggsound", "manifest", ...
}

// Rejected is a listed clip that cannot be processed before any media is opened
// (unknown label, missing file, malformed row); it ends in failures.jsonl.
type Rejected struct {
	ClipID string `json:"clip_id"`
	Path   string `json:"path"`
	Reason string `json:"error"`
}

// Dataset is what a reader returns: the label names (index = label id), the clips to
// extract and the rows that were rejected up front. Every id is unique across Clips
// and Rejected together: a row that repeats an earlier row's clip id is rejected
// under "<id>#<file>:<line>", so each input row maps to one shard row or one failure.
type Dataset struct {
	Name     string
	Labels   []string
	Clips    []Clip
	Rejected []Rejected
	// Skipped counts inputs a reader left out on purpose, so a caller can say so:
	// VGGSound rows whose file is absent under OnlyPresent, CREMA-D files on disk
	// that are in neither list of the "lists" split. They are neither clips nor failures.
	Skipped int
}

// HasSplits reports whether any clip has a split (train, val or test). Training needs them; a
// manifest without a split column, or CREMA-D with SplitNone, has none.
func (ds *Dataset) HasSplits() bool {
	for _, c := range ds.Clips {
		if c.Split != "" {
			return true
		}
	}
	return false
}
