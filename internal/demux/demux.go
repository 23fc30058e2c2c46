// Package demux opens media files for the audio and video decoders: FFmpeg's demuxer tied to
// the clip's deadline, with the streams made known without decoding frames where the container
// allows it.
package demux

import (
	"context"
	"errors"
	"runtime"

	"github.com/asticode/go-astiav"
)

// FLV files announce their streams in their packets only. Until an audio and a video stream
// have both appeared, FindStreams reads ahead at most this far into the file (seconds of
// timeline, packets): an FLV whose stream starts later is taken not to have it.
const (
	readAheadSpan    = 5.0
	readAheadPackets = 1024
)

// Input is an open media file. Its ReadFrame hands out the packets FindStreams read ahead
// before reading new ones, and its SeekFrame drops them.
type Input struct {
	*astiav.FormatContext
	queue []*astiav.Packet // packets read ahead, in file order
	stop  func()           // releases the interrupt callback; after the context is freed
}

// Open opens path; once ctx is done, FFmpeg's blocked reads on it give up. The error is
// FFmpeg's (the caller names the file). Close releases the Input.
func Open(ctx context.Context, path string) (*Input, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, errors.New("cannot allocate format context")
	}
	in := &Input{FormatContext: fc, stop: interruptOn(ctx, fc)}
	if err := fc.OpenInput(path, nil, nil); err != nil {
		fc.Free()
		in.stop()
		return nil, err
	}
	return in, nil
}

// interruptOn makes FFmpeg's blocking I/O on fc (open, probe, packet reads) give up once ctx
// is done. Call the returned function after fc has been freed.
func interruptOn(ctx context.Context, fc *astiav.FormatContext) (stop func()) {
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

// Close closes the file and frees everything Open and FindStreams allocated.
func (in *Input) Close() {
	in.drop()
	in.CloseInput()
	in.Free()
	in.stop()
}

// FindStreams makes the file's streams known. Containers with a header (MP4, MKV, WAV)
// describe them up front: nothing is read unless found reports that what the caller needs is
// missing. FLV creates each stream with its first packet, which already carries the codec
// parameters the decoders need: packets are read ahead (and handed out later by ReadFrame)
// until an audio and a video stream exist, instead of FFmpeg's stream-info probe, which would
// decode frames only for them to be decoded again. Other header-less formats get that probe.
func (in *Input) FindStreams(found func(*astiav.FormatContext) bool) error {
	noHeader := in.CtxFlags().Has(astiav.FormatContextCtxFlagNoHeader)
	switch {
	case noHeader && in.InputFormat().Name() == "flv":
		in.readAhead()
	case noHeader || !found(in.FormatContext):
		return in.FindStreamInfo(nil)
	}
	return nil
}

// readAhead queues packets until the file has an audio and a video stream, or the read-ahead
// limits or the end of the file are reached. Only audio and video packets count towards the
// span (FLV script data carries arbitrary timestamps). A read error ends the read-ahead as the
// end of the file does, as it ends FFmpeg's probe: the demuxer may resynchronise after a
// damaged tag, and if not, the caller's next ReadFrame reports the error.
func (in *Input) readAhead() {
	first := make(map[int]float64) // stream → time of its first timestamped packet, seconds
	for !hasAudioAndVideo(in.FormatContext) && len(in.queue) < readAheadPackets {
		pkt := astiav.AllocPacket()
		if err := in.FormatContext.ReadFrame(pkt); err != nil {
			pkt.Free()
			return
		}
		in.queue = append(in.queue, pkt)
		st := in.Streams()[pkt.StreamIndex()]
		if typ := st.CodecParameters().MediaType(); typ != astiav.MediaTypeAudio && typ != astiav.MediaTypeVideo {
			continue
		}
		if ts := pkt.Dts(); ts != astiav.NoPtsValue {
			t := float64(ts) * st.TimeBase().Float64()
			if t0, ok := first[pkt.StreamIndex()]; !ok {
				first[pkt.StreamIndex()] = t
			} else if t-t0 >= readAheadSpan {
				return
			}
		}
	}
}

func hasAudioAndVideo(fc *astiav.FormatContext) bool {
	var audio, video bool
	for _, s := range fc.Streams() {
		switch s.CodecParameters().MediaType() {
		case astiav.MediaTypeAudio:
			audio = true
		case astiav.MediaTypeVideo:
			video = true
		}
	}
	return audio && video
}

// ReadFrame reads the next packet of the file into pkt (which must be empty): a packet
// read ahead, else a new one from the demuxer. Packets of discarded streams may still come out
// of the read-ahead queue.
func (in *Input) ReadFrame(pkt *astiav.Packet) error {
	if len(in.queue) == 0 {
		return in.FormatContext.ReadFrame(pkt)
	}
	q := in.queue[0]
	in.queue[0] = nil
	in.queue = in.queue[1:]
	pkt.MoveRef(q)
	q.Free()
	return nil
}

// Unread puts pkt's contents back in front of the file: the next ReadFrame returns them. pkt
// is left empty.
func (in *Input) Unread(pkt *astiav.Packet) {
	q := astiav.AllocPacket()
	q.MoveRef(pkt)
	in.queue = append([]*astiav.Packet{q}, in.queue...)
}

// SeekFrame seeks as FormatContext.SeekFrame does, dropping the packets read ahead.
func (in *Input) SeekFrame(stream int, ts int64, f astiav.SeekFlags) error {
	in.drop()
	return in.FormatContext.SeekFrame(stream, ts, f)
}

// drop frees the packets read ahead.
func (in *Input) drop() {
	for _, p := range in.queue {
		p.Free()
	}
	in.queue = in.queue[:0]
}
