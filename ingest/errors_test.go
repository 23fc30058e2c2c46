package ingest

import (
	"errors"
	"io/fs"
	"testing"
)

func TestClipError(t *testing.T) {
	err := error(&ClipError{ClipID: "1001_DFA_ANG_XX", Path: "/d/1001_DFA_ANG_XX.flv", Stage: StageDecodeVideo, Err: fs.ErrNotExist})
	if got, want := err.Error(), "clip 1001_DFA_ANG_XX: decode-video /d/1001_DFA_ANG_XX.flv: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is does not see the cause")
	}
	var ce *ClipError
	if !errors.As(err, &ce) || ce.Stage != StageDecodeVideo {
		t.Error("errors.As failed")
	}
	if got := (&ClipError{ClipID: "x", Stage: StageWrite}).Error(); got != "clip x: write: <nil>" {
		t.Errorf("nil cause: %q", got)
	}
}

func TestRejectedClipError(t *testing.T) {
	ce := Rejected{ClipID: "a", Path: "/p", Reason: "listed but missing on disk"}.ClipError()
	if ce.Stage != StageIngest || ce.ClipID != "a" || ce.Path != "/p" || ce.Err.Error() != "listed but missing on disk" {
		t.Errorf("%+v", ce)
	}
}
