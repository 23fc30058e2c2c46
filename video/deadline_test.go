package video

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFramesContextDone: a done context stops decoding with an error that wraps its cause and
// names the file, and the decoder stays usable.
func TestFramesContextDone(t *testing.T) {
	d := NewDecoder(Sampler{Count: 3}, 32, 32)
	defer d.Close()
	path := filepath.Join("..", "testdata", "media", "sine_h264_aac.mp4")
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if _, _, err := d.FramesContext(ctx, path); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "sine_h264_aac.mp4") {
		t.Errorf("%v, want a deadline error naming the file", err)
	}
	// Cancelled while decoding: whatever point it is reached, the result is frames or a
	// cancellation error, never anything else.
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Duration(i) * time.Millisecond); cancel() }()
		if _, _, err := d.FramesContext(ctx, path); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled mid-way: %v", err)
		}
		cancel()
	}
	if f, _, err := d.FramesContext(context.Background(), path); err != nil || len(f) != 3*32*32*3 {
		t.Errorf("after cancellations: %d bytes, %v", len(f), err)
	}
}
