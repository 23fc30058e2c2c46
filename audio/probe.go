package audio

/*
#cgo pkg-config: libavformat
#include <libavformat/avformat.h>
#include <string.h>

// avb_cap_flv_probe shortens avformat_find_stream_info on FLV: by default it reads up to 90 s
// (and 20 frames per stream for the frame rate) although the first packets describe the
// streams; 0.1 s suffices.
static void avb_cap_flv_probe(AVFormatContext *fc) {
	if (fc->iformat && !strcmp(fc->iformat->name, "flv")) {
		fc->max_analyze_duration = 100000;
		fc->fps_probe_size = 0;
	}
}
*/
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// capFLVProbe limits the stream-info probe of FLV files (see avb_cap_flv_probe). go-astiav
// v0.16.0's FormatContext is a struct whose first field is the C pointer (as video/shim.go
// relies on too).
func capFLVProbe(fc *astiav.FormatContext) {
	C.avb_cap_flv_probe((*C.AVFormatContext)(*(*unsafe.Pointer)(unsafe.Pointer(fc))))
}
