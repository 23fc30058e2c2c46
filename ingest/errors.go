package ingest

import (
	"errors"
	"fmt"
)

// Stages a ClipError can name; they are the "stage" values of failures.jsonl.
const (
	StageIngest      = "ingest"
	StageDecodeAudio = "decode-audio"
	StageDecodeVideo = "decode-video"
	StageFeatures    = "features"
	StageWrite       = "write"
)

// ClipError is a per-clip failure: which clip, which file, at which stage, and why.
// A ClipError never stops a run; the pipeline records it in failures.jsonl.
type ClipError struct {
	ClipID string
	Path   string
	Stage  string // one of the Stage* constants
	Err    error
}

// Error reports the clip, the stage, the path and the cause.
func (e *ClipError) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Path == "" {
		return fmt.Sprintf("clip %s: %s: %s", e.ClipID, e.Stage, msg)
	}
	return fmt.Sprintf("clip %s: %s %s: %s", e.ClipID, e.Stage, e.Path, msg)
}

// Unwrap returns the cause, so errors.Is and errors.As see through a ClipError.
func (e *ClipError) Unwrap() error { return e.Err }

// ClipError returns the rejection as a ClipError at the ingest stage, the form the
// pipeline logs per-clip failures in.
func (r Rejected) ClipError() *ClipError {
	return &ClipError{ClipID: r.ClipID, Path: r.Path, Stage: StageIngest, Err: errors.New(r.Reason)}
}
