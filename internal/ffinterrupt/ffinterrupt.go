// Package ffinterrupt ties FFmpeg's blocking I/O to a Go context, so the audio
// and video decoders give up on a clip once its deadline has passed.
package ffinterrupt

import (
	"context"
	"runtime"

	"github.com/asticode/go-astiav"
)

// On makes FFmpeg's blocking I/O on fc (open, probe, packet reads) give up once
// ctx is done. Call the returned function after fc has been freed.
func On(ctx context.Context, fc *astiav.FormatContext) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	ii := fc.SetInterruptCallback()
	stopAfter := context.AfterFunc(ctx, ii.Interrupt)
	return func() {
		stopAfter()
		runtime.KeepAlive(ii) // FFmpeg holds a pointer to its flag until fc is freed
	}
}
