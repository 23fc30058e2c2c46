package audio

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDecodeContextDone: a done context stops decoding with an error that wraps its cause and
// names the file, for the FFmpeg and the WAV paths alike.
func TestDecodeContextDone(t *testing.T) {
	d := NewDecoder(16000)
	defer d.Close()
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	for _, name := range []string{"sine_h264_aac.mp4", "tone.wav"} {
		path := filepath.Join(media, name)
		_, err := d.DecodeContext(ctx, path)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want a deadline error naming the file", name, err)
		}
		// The decoder stays usable.
		if s, err := d.DecodeContext(context.Background(), path); err != nil || len(s) == 0 {
			t.Errorf("%s after a deadline: %d samples, %v", name, len(s), err)
		}
	}
}
