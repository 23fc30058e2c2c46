package shard

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// Defaults for Writer batching: a record batch is flushed every DefaultBatchRows rows or once it
// would exceed DefaultBatchBytes, whichever comes first, so a writer holds at most about one batch.
const (
	DefaultBatchRows  = 64
	DefaultBatchBytes = 16 << 20
)

// Row is one clip's features. Audio has prod(AudioShape) float32 values in row-major order;
// Frames has N*H*W*3 bytes of RGB24 (frame-major, then rows, then columns, then channel).
type Row struct {
	ClipID    string
	Label     int32
	Split     string
	Audio     []float32
	Frames    []byte
	DurationS float32
	Source    string
	// Notes says what was done to the clip that its file alone would not tell (frames turned
	// by the display matrix, a header's duration overruled), entries separated by "; ";
	// empty for most clips.
	Notes string
}

// ShardInfo describes one committed shard file, as listed in index.json.
type ShardInfo struct {
	File   string `json:"file"`   // base name inside the output folder
	Rows   int    `json:"rows"`   // number of clips
	SHA256 string `json:"sha256"` // hex sha256 of the whole file
}

// Option configures a Writer or a Reader.
type Option func(*options)

type options struct {
	mem        memory.Allocator
	batchRows  int
	batchBytes int
}

func newOptions(opts []Option) options {
	o := options{mem: memory.DefaultAllocator, batchRows: DefaultBatchRows, batchBytes: DefaultBatchBytes}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithAllocator makes a Writer build its record batches (or a Reader do its few allocations) with mem.
func WithAllocator(mem memory.Allocator) Option { return func(o *options) { o.mem = mem } }

// WithBatchRows sets the most rows a Writer buffers before flushing a record batch (n >= 1).
func WithBatchRows(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.batchRows = n
		}
	}
}

// WithBatchBytes sets the most feature bytes a Writer buffers before flushing a record batch. A single
// row larger than n still makes a batch of its own.
func WithBatchBytes(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.batchBytes = n
		}
	}
}

// Writer writes one shard file. It writes to dir/name+".tmp" and only Commit makes dir/name appear,
// atomically and durably, so a crash never leaves a partial shard under a shard name.
// A Writer is not safe for concurrent use.
type Writer struct {
	dir, name, tmp string
	opt            options
	schema         *arrow.Schema
	audioShape     []int
	audioLen       int
	frameLen       int

	f    *os.File
	hash hash.Hash
	buf  *bufio.Writer
	fw   *ipc.FileWriter

	clipID, split, source *array.StringBuilder
	notes                 *array.StringBuilder
	label                 *array.Int32Builder
	duration              *array.Float32Builder
	// The two large columns are gathered in flat buffers sized for one whole batch, allocated once
	// per Writer and reused for every batch: Arrow builders would allocate (and zero) fresh,
	// power-of-two-rounded memory for each batch. flush wraps them in arrays without copying.
	audio  []float32 // pending × audioLen
	frames []byte    // pending × frameLen

	pending, pendingBytes, rows int
	err                         error // sticky: set by the first failed write
	done                        bool  // Commit or Abort was called
}

// NewWriter creates dir/name+".tmp" for a shard with the given shapes. name must be a base name
// ending in ".arrow" (see ShardName) and dir/name must not exist yet: a committed shard is never
// overwritten.
func NewWriter(dir, name string, audioShape, frameShape []int, opts ...Option) (*Writer, error) {
	if name != filepath.Base(name) || !strings.HasSuffix(name, Ext) || name == Ext {
		return nil, fmt.Errorf("shard: name %q is not a base name ending in %s", name, Ext)
	}
	schema, err := NewSchema(audioShape, frameShape)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(dir, name)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("shard: %s already exists; committed shards are never overwritten", final)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("shard: %w", err)
	}
	w := &Writer{
		dir: dir, name: name, tmp: final + TempExt,
		opt: newOptions(opts), schema: schema,
		audioShape: append([]int(nil), audioShape...),
		audioLen:   int(schema.Field(colAudio).Type.(*arrow.FixedSizeListType).Len()),
		frameLen:   schema.Field(colFrames).Type.(*arrow.FixedSizeBinaryType).ByteWidth,
		hash:       sha256.New(),
	}
	w.f, err = os.OpenFile(w.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	// The hash sees exactly the bytes handed to the file, so Commit never re-reads the shard.
	w.buf = bufio.NewWriterSize(io.MultiWriter(w.f, w.hash), 1<<20)
	w.fw, err = ipc.NewFileWriter(w.buf, ipc.WithSchema(schema), ipc.WithAllocator(w.opt.mem))
	if err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return nil, fmt.Errorf("shard: %s: %w", w.tmp, err)
	}
	mem := w.opt.mem
	w.clipID = array.NewStringBuilder(mem)
	w.label = array.NewInt32Builder(mem)
	w.split = array.NewStringBuilder(mem)
	w.duration = array.NewFloat32Builder(mem)
	w.source = array.NewStringBuilder(mem)
	w.notes = array.NewStringBuilder(mem)
	return w, nil
}

// Rows returns the number of rows appended so far.
func (w *Writer) Rows() int { return w.rows }

// Append adds one row. A row whose Audio or Frames length does not match the shard's shapes is
// rejected with an error and the writer stays usable; an I/O error (disk full, …) is returned
// here or from Commit and makes the writer unusable (call Abort).
func (w *Writer) Append(r Row) error {
	if w.done {
		return fmt.Errorf("shard: %s: append after Commit or Abort", w.tmp)
	}
	if w.err != nil {
		return w.err
	}
	if len(r.Audio) != w.audioLen {
		return fmt.Errorf("shard: %s: clip %q: audio has %d values, want %d (shape %v)",
			w.name, r.ClipID, len(r.Audio), w.audioLen, w.audioShape)
	}
	if len(r.Frames) != w.frameLen {
		return fmt.Errorf("shard: %s: clip %q: frames have %d bytes, want %d", w.name, r.ClipID, len(r.Frames), w.frameLen)
	}
	rowBytes := 4*w.audioLen + w.frameLen + len(r.ClipID) + len(r.Split) + len(r.Source) + len(r.Notes) + 8
	if w.pending > 0 && w.pendingBytes+rowBytes > w.opt.batchBytes {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if w.pending == 0 {
		w.reserve(rowBytes)
	}
	w.clipID.Append(r.ClipID)
	w.label.Append(r.Label)
	w.split.Append(r.Split)
	w.audio = append(w.audio, r.Audio...)
	w.frames = append(w.frames, r.Frames...)
	w.duration.Append(r.DurationS)
	w.source.Append(r.Source)
	w.notes.Append(r.Notes)
	w.pending++
	w.pendingBytes += rowBytes
	w.rows++
	if w.pending >= w.opt.batchRows {
		return w.flush()
	}
	return nil
}

// reserve sizes the large column buffers for one whole batch so they never grow by copying; the
// memory is kept and reused by the following batches.
func (w *Writer) reserve(rowBytes int) {
	n := min(w.opt.batchRows, max(1, w.opt.batchBytes/rowBytes))
	if cap(w.audio) >= n*w.audioLen && cap(w.frames) >= n*w.frameLen {
		return
	}
	if fb := takeSpare(); fb != nil {
		w.audio, w.frames = fb.audio[:0], fb.frames[:0]
	}
	if cap(w.audio) < n*w.audioLen {
		w.audio = make([]float32, 0, n*w.audioLen)
	}
	if cap(w.frames) < n*w.frameLen {
		w.frames = make([]byte, 0, n*w.frameLen)
	}
}

// flatBuffers are a finished Writer's column buffers, kept for the next Writer: an extraction
// writes its shards one after the other, so the next shard reuses the memory instead of
// allocating a new batch's worth while the old one waits for the garbage collector.
type flatBuffers struct {
	audio  []float32
	frames []byte
}

// spare holds the column buffers of the last finished Writer, at most one set (one batch, 16 MB
// by default, kept for the life of the process). Not a sync.Pool: its Put keeps an object in
// the current P's private slot, which a Get on another P does not see, and the commit's
// syscalls often move the writing goroutine to another P; the next shard then allocated a new
// batch's worth while the old one stayed live until two collections later (the +16 MB heap
// peaks, and peak RSS, at shard boundaries).
var spare struct {
	sync.Mutex
	fb *flatBuffers
}

// takeSpare returns the spare buffers, or nil.
func takeSpare() *flatBuffers {
	spare.Lock()
	defer spare.Unlock()
	fb := spare.fb
	spare.fb = nil
	return fb
}

// keepSpare keeps fb for the next Writer, in place of smaller spare buffers.
func keepSpare(fb *flatBuffers) {
	spare.Lock()
	defer spare.Unlock()
	if spare.fb == nil || cap(spare.fb.frames)+4*cap(spare.fb.audio) < cap(fb.frames)+4*cap(fb.audio) {
		spare.fb = fb
	}
}

// flatArrays wraps the pending rows of the large column buffers as Arrow arrays without copying;
// the arrays must be released before the buffers are reused.
func (w *Writer) flatArrays() (audio, frames arrow.Array) {
	n := w.pending
	values := array.NewData(arrow.PrimitiveTypes.Float32, n*w.audioLen,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(w.audio))}, nil, 0, 0)
	list := array.NewData(w.schema.Field(colAudio).Type, n, []*memory.Buffer{nil}, []arrow.ArrayData{values}, 0, 0)
	values.Release()
	audio = array.MakeFromData(list)
	list.Release()
	fd := array.NewData(w.schema.Field(colFrames).Type, n, []*memory.Buffer{nil, memory.NewBufferBytes(w.frames)}, nil, 0, 0)
	frames = array.MakeFromData(fd)
	fd.Release()
	return audio, frames
}

// flush writes the buffered rows as one record batch.
func (w *Writer) flush() error {
	if w.pending == 0 {
		return nil
	}
	audio, frames := w.flatArrays()
	cols := []arrow.Array{
		w.clipID.NewArray(), w.label.NewArray(), w.split.NewArray(), audio,
		frames, w.duration.NewArray(), w.source.NewArray(), w.notes.NewArray(),
	}
	rec := array.NewRecordBatch(w.schema, cols, int64(w.pending))
	for _, c := range cols {
		c.Release()
	}
	err := w.fw.Write(rec) // writes the batch's bytes out before returning
	rec.Release()
	w.audio, w.frames = w.audio[:0], w.frames[:0]
	w.pending, w.pendingBytes = 0, 0
	if err != nil {
		w.err = fmt.Errorf("shard: %s: %w", w.name, err)
		return w.err
	}
	return nil
}

// Commit flushes the last batch, writes the Arrow file footer, fsyncs the file, renames it to
// dir/name and fsyncs dir. On any error the temp file is removed, no dir/name is left behind,
// and the error says which file and why.
func (w *Writer) Commit() (ShardInfo, error) {
	if w.done {
		return ShardInfo{}, fmt.Errorf("shard: %s: Commit after Commit or Abort", w.tmp)
	}
	err := w.finish()
	w.release()
	w.done = true
	if err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return ShardInfo{}, err
	}
	final := filepath.Join(w.dir, w.name)
	if err := os.Rename(w.tmp, final); err != nil {
		os.Remove(w.tmp)
		return ShardInfo{}, fmt.Errorf("shard: commit %w", err)
	}
	if err := atomicfile.SyncDir(w.dir); err != nil {
		// The rename may not survive a crash: undo it so the caller's failure handling stays true.
		os.Remove(final)
		return ShardInfo{}, fmt.Errorf("shard: commit %s: %w", final, err)
	}
	return ShardInfo{File: w.name, Rows: w.rows, SHA256: hex.EncodeToString(w.hash.Sum(nil))}, nil
}

// finish writes everything still buffered, fsyncs and closes the temp file.
func (w *Writer) finish() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.fw.Close(); err != nil {
		return fmt.Errorf("shard: %s: footer: %w", w.name, err)
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("shard: %s: %w", w.name, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("shard: %s: fsync: %w", w.name, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("shard: %s: close: %w", w.name, err)
	}
	return nil
}

// Abort discards the shard: it releases the buffered rows and removes the temp file. It is a no-op
// after Commit or a previous Abort, so `defer w.Abort()` is safe.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.release()
	w.f.Close()
	os.Remove(w.tmp)
}

func (w *Writer) release() {
	for _, b := range []array.Builder{w.clipID, w.label, w.split, w.duration, w.source, w.notes} {
		b.Release()
	}
	if cap(w.audio) > 0 || cap(w.frames) > 0 {
		keepSpare(&flatBuffers{audio: w.audio[:0], frames: w.frames[:0]})
	}
	w.audio, w.frames = nil, nil
}
