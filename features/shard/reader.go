package shard

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// Reader reads a shard through a read-only memory map of the file. Opening validates the whole file
// structure, so reading a row never fails. Slices returned by Row, Batch and Record alias the map:
// they are valid until Close and must not be modified. Strings returned by Row, ClipIDs and Splits
// are copies and stay valid after Close. A Reader is safe for concurrent reads; Close must not run
// concurrently with them.
type Reader struct {
	path       string
	data       []byte // the memory map; nil for a Reader over caller-owned bytes
	fr         *ipc.FileReader
	recs       []arrow.RecordBatch
	batches    []Batch
	cols       []stringCols
	starts     []int // starts[b] = index of batch b's first row; starts[len] = NumRows
	version    int   // the shard's schema version
	audioShape []int
	frameShape []int
	audioLen   int // prod(audioShape)
	frameLen   int // prod(frameShape)
}

type stringCols struct{ clipID, split, source, notes *array.String } // notes nil before version 2

// Batch is one Arrow record batch of a shard, with its fixed-width columns as flat slices that alias
// the memory map (valid until the Reader is closed; do not modify).
type Batch struct {
	Offset    int       // index of the batch's first row in the shard
	Rows      int       // number of rows
	Labels    []int32   // Rows labels
	Audio     []float32 // Rows × prod(AudioShape), row-major
	Frames    []byte    // Rows × N×H×W×3 bytes
	DurationS []float32 // Rows durations in seconds
}

// Open memory-maps the shard at path and validates it: Arrow file structure, the shard schema and
// version, shape metadata against column sizes, and every record batch's buffers. A corrupt or
// truncated file is an error naming path, never a panic.
func Open(path string, opts ...Option) (*Reader, error) {
	data, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	r, err := newReader(data, opts)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("shard: %s: %w", path, err)
	}
	r.path, r.data = path, data
	return r, nil
}

func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: empty file, not a shard", path)
	}
	if st.Size() != int64(int(st.Size())) {
		return nil, fmt.Errorf("%s: file too large to map", path)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	return data, nil
}

// newReader reads a shard held in data (which must outlive the Reader) without copying it.
func newReader(data []byte, opts []Option) (_ *Reader, err error) {
	if err := checkFile(data); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	r := &Reader{}
	defer func() {
		// Last resort: checkFile has bounded every length arrow-go trusts, but arrow-go's flatbuffer
		// accessors have no verifier of their own, so a stray offset may still panic in there.
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt Arrow metadata: %v", p)
		}
		if err != nil {
			r.release()
		}
	}()
	// The body limit guards allocations; a mapped file allocates nothing for bodies, and every block
	// is already checked against the file size.
	r.fr, err = ipc.NewMappedFileReader(data, ipc.WithAllocator(o.mem), ipc.WithBodySizeLimit(0))
	if err != nil {
		return nil, err
	}
	if r.version, r.audioShape, r.frameShape, err = checkSchema(r.fr.Schema()); err != nil {
		return nil, err
	}
	r.audioLen, _ = shapeLen(r.audioShape, ColAudio)
	r.frameLen, _ = shapeLen(r.frameShape, ColFrames)
	n := r.fr.NumRecords()
	r.starts = append(r.starts, 0)
	for i := 0; i < n; i++ {
		rec, err := r.fr.RecordBatchAt(i)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		r.recs = append(r.recs, rec)
		b, cols, err := r.checkBatch(rec)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		b.Offset = r.starts[i]
		r.batches = append(r.batches, b)
		r.cols = append(r.cols, cols)
		r.starts = append(r.starts, b.Offset+b.Rows)
	}
	return r, nil
}

// checkBatch validates one record batch and returns its flat views.
func (r *Reader) checkBatch(rec arrow.RecordBatch) (Batch, stringCols, error) {
	if want := columns(r.version); int(rec.NumCols()) != want {
		return Batch{}, stringCols{}, fmt.Errorf("%d columns, want %d", rec.NumCols(), want)
	}
	rows := int(rec.NumRows())
	for i, c := range rec.Columns() {
		if c.Len() != rows {
			return Batch{}, stringCols{}, fmt.Errorf("column %s has %d rows, the batch %d", rec.ColumnName(i), c.Len(), rows)
		}
		if c.NullN() != 0 {
			return Batch{}, stringCols{}, fmt.Errorf("column %s has %d nulls", rec.ColumnName(i), c.NullN())
		}
	}
	// Buffer sizes against lengths and offsets, string offsets monotonic and within data, valid UTF-8.
	if err := array.ValidateRecordFull(rec); err != nil {
		return Batch{}, stringCols{}, err
	}
	audio := rec.Column(colAudio).(*array.FixedSizeList)
	if audio.ListValues().NullN() != 0 {
		return Batch{}, stringCols{}, errors.New("column audio has null values")
	}
	frames := rec.Column(colFrames).(*array.FixedSizeBinary)
	aLen, fLen := r.audioLen, r.frameLen
	fOff := frames.Data().Offset()
	b := Batch{
		Rows:      rows,
		Labels:    rec.Column(colLabel).(*array.Int32).Int32Values(),
		Audio:     audio.ListValues().(*array.Float32).Float32Values()[audio.Offset()*aLen : (audio.Offset()+rows)*aLen],
		DurationS: rec.Column(colDurationS).(*array.Float32).Float32Values(),
	}
	if rows > 0 {
		b.Frames = frames.Data().Buffers()[1].Bytes()[fOff*fLen : (fOff+rows)*fLen]
	}
	cols := stringCols{
		clipID: rec.Column(colClipID).(*array.String),
		split:  rec.Column(colSplit).(*array.String),
		source: rec.Column(colSource).(*array.String),
	}
	if r.version >= 2 {
		cols.notes = rec.Column(colNotes).(*array.String)
	}
	return b, cols, nil
}

// Path returns the file the Reader was opened on.
func (r *Reader) Path() string { return r.path }

// NumRows returns the number of rows (clips) in the shard.
func (r *Reader) NumRows() int { return r.starts[len(r.starts)-1] }

// AudioShape returns the shape of one row's audio feature, e.g. [128 300].
func (r *Reader) AudioShape() []int { return append([]int(nil), r.audioShape...) }

// FrameShape returns the shape of one row's frames, [N H W 3].
func (r *Reader) FrameShape() []int { return append([]int(nil), r.frameShape...) }

// NumBatches returns the number of record batches.
func (r *Reader) NumBatches() int { return len(r.batches) }

// Batch returns record batch b as flat slices aliasing the map. It panics if b is out of range.
func (r *Reader) Batch(b int) Batch { return r.batches[b] }

// Record returns record batch b as an Arrow record batch over the map, valid until Close. The Reader
// owns it: call Retain/Release only in pairs. It panics if b is out of range.
func (r *Reader) Record(b int) arrow.RecordBatch { return r.recs[b] }

// Row returns row i. Audio and Frames alias the map (valid until Close, do not modify); the strings
// are copies. It panics if i is out of range, like a slice index.
func (r *Reader) Row(i int) Row {
	if i < 0 || i >= r.NumRows() {
		panic(fmt.Sprintf("shard: row %d out of range [0,%d)", i, r.NumRows()))
	}
	b := sort.SearchInts(r.starts, i+1) - 1
	j := i - r.starts[b]
	bt, c := &r.batches[b], &r.cols[b]
	aLen, fLen := r.audioLen, r.frameLen
	return Row{
		ClipID:    strings.Clone(c.clipID.Value(j)),
		Label:     bt.Labels[j],
		Split:     strings.Clone(c.split.Value(j)),
		Audio:     bt.Audio[j*aLen : (j+1)*aLen : (j+1)*aLen],
		Frames:    bt.Frames[j*fLen : (j+1)*fLen : (j+1)*fLen],
		DurationS: bt.DurationS[j],
		Source:    strings.Clone(c.source.Value(j)),
		Notes:     c.note(j),
	}
}

// Evict tells the kernel that row i's audio and frames will not be read soon (madvise
// MADV_DONTNEED over their pages): they leave the process's resident set and stay in the page cache,
// so a pass over a shard much larger than memory keeps only the rows in use resident. Reading the row
// again faults its pages back in from the cache; the slices stay valid. The range is rounded out to
// evictGranule, so it may cover neighbouring rows, which are then faulted back in when read. Safe during concurrent reads; a no-op
// for a Reader over caller-owned bytes or an i out of range.
func (r *Reader) Evict(i int) {
	if r.data == nil || i < 0 || i >= r.NumRows() {
		return
	}
	b := sort.SearchInts(r.starts, i+1) - 1
	j := i - r.starts[b]
	bt := &r.batches[b]
	r.evict(unsafe.Pointer(unsafe.SliceData(bt.Audio[j*r.audioLen:])), r.audioLen*4)
	r.evict(unsafe.Pointer(unsafe.SliceData(bt.Frames[j*r.frameLen:])), r.frameLen)
}

// evictGranule is what evict rounds out to: Linux's fault-around window (fault_around_bytes, 64 KiB
// by default), within which a read fault also maps the neighbouring pages that are in the page cache.
// Rounding to pages only would leave those resident, a few neighbours' worth per row read.
const evictGranule = 64 << 10

// evict drops the pages of the n mapped bytes at p (rounded out to evictGranule) from the resident
// set.
func (r *Reader) evict(p unsafe.Pointer, n int) {
	if n <= 0 {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r.data)))
	g := uintptr(max(evictGranule, os.Getpagesize()))
	lo := (uintptr(p) - base) &^ (g - 1)
	hi := min((uintptr(p)-base+uintptr(n)+g-1)&^(g-1), uintptr(len(r.data)))
	// Only a failing madvise (EINVAL, ENOMEM: nothing that changes what a read returns) is ignored.
	_ = syscall.Madvise(r.data[lo:hi], syscall.MADV_DONTNEED)
}

// note is row j's notes ("" before schema version 2).
func (c *stringCols) note(j int) string {
	if c.notes == nil {
		return ""
	}
	return strings.Clone(c.notes.Value(j))
}

// Notes returns every row's notes, in row order ("" for a row without notes, and for every row
// of a shard older than schema version 2).
func (r *Reader) Notes() []string {
	out := make([]string, 0, r.NumRows())
	for _, c := range r.cols {
		for j := 0; j < c.clipID.Len(); j++ {
			out = append(out, c.note(j))
		}
	}
	return out
}

// SchemaVersion returns the shard's schema version (1 or 2; see SchemaVersion).
func (r *Reader) SchemaVersion() int { return r.version }

// ClipIDs returns every row's clip id, in row order.
func (r *Reader) ClipIDs() []string {
	return r.strings(func(c stringCols) *array.String { return c.clipID })
}

// Splits returns every row's split name, in row order.
func (r *Reader) Splits() []string {
	return r.strings(func(c stringCols) *array.String { return c.split })
}

func (r *Reader) strings(col func(stringCols) *array.String) []string {
	out := make([]string, 0, r.NumRows())
	for _, c := range r.cols {
		a := col(c)
		for j := 0; j < a.Len(); j++ {
			out = append(out, strings.Clone(a.Value(j)))
		}
	}
	return out
}

// Labels returns every row's label, in row order (a copy).
func (r *Reader) Labels() []int32 {
	out := make([]int32, 0, r.NumRows())
	for _, b := range r.batches {
		out = append(out, b.Labels...)
	}
	return out
}

// Close releases the record batches and unmaps the file. Every slice obtained from the Reader
// becomes invalid. Close is idempotent.
func (r *Reader) Close() error {
	r.release()
	if r.data == nil {
		return nil
	}
	err := syscall.Munmap(r.data)
	r.data = nil
	if err != nil {
		return fmt.Errorf("shard: unmap %s: %w", r.path, err)
	}
	return nil
}

func (r *Reader) release() {
	for _, rec := range r.recs {
		rec.Release()
	}
	r.recs, r.batches, r.cols = nil, nil, nil
	if r.fr != nil {
		r.fr.Close()
		r.fr = nil
	}
	r.starts = []int{0}
}
