package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var (
	testAudioShape = []int{4, 6}
	testFrameShape = []int{2, 3, 5, 3}
)

func randomRows(rng *rand.Rand, prefix string, n int, audioShape, frameShape []int) []Row {
	aLen, _ := shapeLen(audioShape, "audio")
	fLen, _ := shapeLen(frameShape, "frames")
	rows := make([]Row, n)
	for i := range rows {
		r := Row{
			ClipID:    fmt.Sprintf("%s-%04d", prefix, i),
			Label:     int32(rng.IntN(6)),
			Split:     []string{"train", "val", "test"}[rng.IntN(3)],
			Audio:     make([]float32, aLen),
			Frames:    make([]byte, fLen),
			DurationS: rng.Float32() * 10,
			Source:    "/media/" + prefix + fmt.Sprint(i) + ".flv",
		}
		if i%3 == 1 {
			r.Notes = "display: frames turned as players show them (rotate 90° clockwise, from the display matrix)"
		}
		for j := range r.Audio {
			r.Audio[j] = float32(rng.NormFloat64())
		}
		for j := range r.Frames {
			r.Frames[j] = byte(rng.UintN(256))
		}
		rows[i] = r
	}
	return rows
}

func writeShard(t testing.TB, dir, name string, rows []Row, opts ...Option) ShardInfo {
	t.Helper()
	w, err := NewWriter(dir, name, testAudioShape, testFrameShape, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sizes := []int{17, 1, 9}
	var all [][]Row
	for s, n := range sizes {
		rows := randomRows(rng, fmt.Sprintf("s%d", s), n, testAudioShape, testFrameShape)
		all = append(all, rows)
		name := ShardName(s)
		info := writeShard(t, dir, name, rows, WithAllocator(mem), WithBatchRows(4))
		if info.File != name || info.Rows != n {
			t.Fatalf("ShardInfo %+v, want file %s rows %d", info, name, n)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != info.SHA256 {
			t.Fatalf("ShardInfo sha256 %s, file has %x", info.SHA256, sum)
		}
	}
	if mem.CurrentAlloc() != 0 {
		t.Fatalf("writer leaked %d bytes", mem.CurrentAlloc())
	}

	for s, rows := range all {
		r, err := Open(filepath.Join(dir, ShardName(s)), WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		if r.NumRows() != len(rows) {
			t.Fatalf("shard %d: %d rows, want %d", s, r.NumRows(), len(rows))
		}
		if !reflect.DeepEqual(r.AudioShape(), testAudioShape) || !reflect.DeepEqual(r.FrameShape(), testFrameShape) {
			t.Fatalf("shapes %v %v", r.AudioShape(), r.FrameShape())
		}
		if want := (len(rows) + 3) / 4; r.NumBatches() != want {
			t.Fatalf("shard %d: %d batches, want %d", s, r.NumBatches(), want)
		}
		var ids, splits, notes []string
		var labels []int32
		for i, want := range rows {
			if got := r.Row(i); !reflect.DeepEqual(got, want) {
				t.Fatalf("shard %d row %d:\n got %+v\nwant %+v", s, i, got, want)
			}
			ids, splits, labels = append(ids, want.ClipID), append(splits, want.Split), append(labels, want.Label)
			notes = append(notes, want.Notes)
		}
		if !reflect.DeepEqual(r.ClipIDs(), ids) || !reflect.DeepEqual(r.Splits(), splits) || !reflect.DeepEqual(r.Labels(), labels) ||
			!reflect.DeepEqual(r.Notes(), notes) {
			t.Fatalf("shard %d: column accessors disagree with rows", s)
		}
		for b := 0; b < r.NumBatches(); b++ {
			bt := r.Batch(b)
			for j := 0; j < bt.Rows; j++ {
				want := rows[bt.Offset+j]
				aLen, fLen := len(want.Audio), len(want.Frames)
				if !reflect.DeepEqual(bt.Audio[j*aLen:(j+1)*aLen], want.Audio) ||
					!bytes.Equal(bt.Frames[j*fLen:(j+1)*fLen], want.Frames) ||
					bt.Labels[j] != want.Label || bt.DurationS[j] != want.DurationS {
					t.Fatalf("shard %d batch %d row %d differs", s, b, j)
				}
			}
		}
		sc := r.Record(0).Schema()
		if v, _ := sc.Metadata().GetValue("avbalance.schema_version"); v != "2" || r.SchemaVersion() != 2 {
			t.Fatalf("schema_version metadata %q", v)
		}
		if v, _ := sc.Field(colAudio).Metadata.GetValue("shape"); v != "4,6" {
			t.Fatalf("audio shape metadata %q", v)
		}
		if v, _ := sc.Field(colFrames).Metadata.GetValue("shape"); v != "2,3,5,3" {
			t.Fatalf("frames shape metadata %q", v)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	}
}

func TestZeroCopy(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(3, 4)), "z", 10, testAudioShape, testFrameShape)
	writeShard(t, dir, "z.arrow", rows, WithBatchRows(3))
	r, err := Open(filepath.Join(dir, "z.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lo := uintptr(unsafe.Pointer(&r.data[0]))
	hi := lo + uintptr(len(r.data))
	inMap := func(p unsafe.Pointer) bool { return uintptr(p) >= lo && uintptr(p) < hi }
	for i := range rows {
		row := r.Row(i)
		if !inMap(unsafe.Pointer(&row.Audio[0])) || !inMap(unsafe.Pointer(&row.Frames[0])) {
			t.Fatalf("row %d audio/frames were copied out of the map", i)
		}
	}
	if b := r.Batch(1); !inMap(unsafe.Pointer(&b.Labels[0])) || !inMap(unsafe.Pointer(&b.Audio[0])) {
		t.Fatal("batch slices were copied out of the map")
	}
}

// TestStandardIPCReader checks that a shard is a plain Arrow IPC file: arrow-go's ordinary
// (non-mapped) file reader reads it with the documented schema.
func TestStandardIPCReader(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(5, 6)), "p", 7, testAudioShape, testFrameShape)
	writeShard(t, dir, "p.arrow", rows, WithBatchRows(5))
	f, err := os.Open(filepath.Join(dir, "p.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	want, err := NewSchema(testAudioShape, testFrameShape)
	if err != nil {
		t.Fatal(err)
	}
	got := fr.Schema()
	if !got.Equal(want) || !got.Metadata().Equal(want.Metadata()) {
		t.Fatalf("schema:\n%s\nwant:\n%s", got, want)
	}
	for i, typ := range []string{"utf8", "int32", "utf8", "fixed_size_list<item: float32>[24]",
		"fixed_size_binary[90]", "float32", "utf8"} {
		if s := got.Field(i).Type.String(); s != typ {
			t.Errorf("column %d type %s, want %s", i, s, typ)
		}
		if i == colAudio || i == colFrames {
			if !got.Field(i).Metadata.Equal(want.Field(i).Metadata) {
				t.Errorf("column %d metadata %v", i, got.Field(i).Metadata)
			}
		}
	}
	i := 0
	for b := 0; b < fr.NumRecords(); b++ {
		rec, err := fr.RecordBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		ids := rec.Column(colClipID).(*array.String)
		audio := rec.Column(colAudio).(*array.FixedSizeList).ListValues().(*array.Float32).Float32Values()
		frames := rec.Column(colFrames).(*array.FixedSizeBinary)
		for j := 0; j < int(rec.NumRows()); j, i = j+1, i+1 {
			if ids.Value(j) != rows[i].ClipID || !bytes.Equal(frames.Value(j), rows[i].Frames) ||
				!reflect.DeepEqual(audio[j*24:(j+1)*24], rows[i].Audio) {
				t.Fatalf("row %d differs through ipc.NewFileReader", i)
			}
		}
	}
	if i != len(rows) {
		t.Fatalf("read %d rows, want %d", i, len(rows))
	}
}

func TestWriterRejectsBadRows(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := randomRows(rand.New(rand.NewPCG(7, 8)), "b", 3, testAudioShape, testFrameShape)
	w, err := NewWriter(dir, "b.arrow", testAudioShape, testFrameShape, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	bad := rows[0]
	bad.Audio = bad.Audio[:5]
	if err := w.Append(bad); err == nil {
		t.Fatal("short audio accepted")
	}
	bad = rows[0]
	bad.Frames = append(bad.Frames, 0)
	if err := w.Append(bad); err == nil {
		t.Fatal("long frames accepted")
	}
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			t.Fatal("writer unusable after a rejected row:", err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rows[0]); err == nil {
		t.Fatal("Append after Commit accepted")
	}
	w.Abort() // must not remove the committed shard
	r, err := Open(filepath.Join(dir, "b.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	if r.NumRows() != 3 {
		t.Fatalf("%d rows, want 3", r.NumRows())
	}
	r.Close()
	if _, err := NewWriter(dir, "b.arrow", testAudioShape, testFrameShape); err == nil {
		t.Fatal("NewWriter overwrote a committed shard")
	}
	for _, name := range []string{"x", "../x.arrow", "x.arrow.tmp", ".arrow"} {
		if _, err := NewWriter(dir, name, testAudioShape, testFrameShape); err == nil {
			t.Fatalf("name %q accepted", name)
		}
	}
	for _, fs := range [][]int{{2, 3, 5}, {2, 3, 5, 4}, {0, 3, 5, 3}} {
		if _, err := NewWriter(dir, "c.arrow", testAudioShape, fs); err == nil {
			t.Fatalf("frame shape %v accepted", fs)
		}
	}
}

func TestAbortRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w, err := NewWriter(dir, "a.arrow", testAudioShape, testFrameShape, WithAllocator(mem), WithBatchRows(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range randomRows(rand.New(rand.NewPCG(9, 9)), "a", 5, testAudioShape, testFrameShape) {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	w.Abort()
	assertEmptyDir(t, dir)
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestWriterDiskFull makes the temp file a link to /dev/full, so every write fails with ENOSPC
// the way a full disk does: the error must surface and no shard may appear.
func TestWriterDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, "f.arrow.tmp")); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	w, err := NewWriter(dir, "f.arrow", testAudioShape, testFrameShape, WithAllocator(mem), WithBatchRows(2))
	if err != nil {
		t.Fatal(err)
	}
	var appendErr error
	for _, r := range randomRows(rand.New(rand.NewPCG(1, 1)), "f", 4, testAudioShape, testFrameShape) {
		if appendErr = w.Append(r); appendErr != nil {
			break
		}
	}
	_, err = w.Commit()
	if err == nil {
		t.Fatal("Commit to a full disk succeeded")
	}
	t.Logf("append error: %v; commit error: %v", appendErr, err)
	assertEmptyDir(t, dir)
}

// TestWriterDirGone removes the output folder under a running writer: Commit must fail and leave
// no shard.
func TestWriterDirGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(dir, "g.arrow", testAudioShape, testFrameShape)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range randomRows(rand.New(rand.NewPCG(2, 2)), "g", 3, testAudioShape, testFrameShape) {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err == nil {
		t.Fatal("Commit into a removed folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "g.arrow")); !os.IsNotExist(err) {
		t.Fatal("shard exists after a failed Commit")
	}
}

func TestWriterReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which ignores directory permissions; TestWriterDiskFull covers write errors")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if _, err := NewWriter(dir, "r.arrow", testAudioShape, testFrameShape); err == nil {
		t.Fatal("NewWriter in a read-only folder succeeded")
	}
	assertEmptyDir(t, dir)
}

func TestBatchBytesBoundsBatches(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(4, 4)), "m", 10, testAudioShape, testFrameShape)
	rowBytes := 4*24 + 90
	writeShard(t, dir, "m.arrow", rows, WithBatchBytes(3*rowBytes+50))
	r, err := Open(filepath.Join(dir, "m.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for b := 0; b < r.NumBatches(); b++ {
		if n := r.Batch(b).Rows; n > 3 {
			t.Fatalf("batch %d has %d rows, the byte limit allows 3", b, n)
		}
	}
	if r.NumRows() != 10 {
		t.Fatalf("%d rows", r.NumRows())
	}
}

func TestEmptyShard(t *testing.T) {
	dir := t.TempDir()
	info := writeShard(t, dir, "e.arrow", nil)
	if info.Rows != 0 {
		t.Fatalf("rows %d", info.Rows)
	}
	r, err := Open(filepath.Join(dir, "e.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRows() != 0 || len(r.ClipIDs()) != 0 {
		t.Fatal("empty shard has rows")
	}
}

func TestOpenRejectsCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(6, 6)), "c", 5, testAudioShape, testFrameShape)
	writeShard(t, dir, "c.arrow", rows, WithBatchRows(2))
	good, err := os.ReadFile(filepath.Join(dir, "c.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	try := func(what string, data []byte) error {
		t.Helper()
		path := filepath.Join(dir, "bad.arrow")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err == nil {
			r.Close()
			t.Errorf("%s: opened without error", what)
		}
		return err
	}
	for n := 0; n < len(good); n += 7 {
		try(fmt.Sprintf("truncated to %d bytes", n), good[:n])
	}
	try("text file", []byte("clip_id,label\nx,1\n"))

	// A footer whose schema claims 2^32-16 fields: arrow-go would make() that many before failing.
	footerLen := int(uint32(good[len(good)-10]) | uint32(good[len(good)-9])<<8 | uint32(good[len(good)-8])<<16 | uint32(good[len(good)-7])<<24)
	fstart := len(good) - 10 - footerLen
	foot, err := fbRoot(good[fstart : len(good)-10])
	if err != nil {
		t.Fatal(err)
	}
	schema, _, err := foot.table(1)
	if err != nil {
		t.Fatal(err)
	}
	vec, _, err := schema.ref(1)
	if err != nil {
		t.Fatal(err)
	}
	huge := bytes.Clone(good)
	copy(huge[fstart+vec:], []byte{0xf0, 0xff, 0xff, 0xff})
	if err := try("huge field count", huge); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("huge field count: error %v, want the flatbuffer check's", err)
	}

	// An Arrow file with another schema.
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var buf bytes.Buffer
	fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(other))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.AppendValues([]int64{1, 2}, nil)
	col := b.NewArray()
	rec := array.NewRecordBatch(other, []arrow.Array{col}, 2)
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	rec.Release()
	col.Release()
	b.Release()
	try("foreign Arrow file", buf.Bytes())

	if _, err := Open(filepath.Join(dir, "missing.arrow")); err == nil {
		t.Error("missing file opened")
	}
}

// TestNextWriterReusesBuffers checks that a Writer started after another was committed reuses
// its column buffers, whichever goroutine commits and even after collections in between.
func TestNextWriterReusesBuffers(t *testing.T) {
	dir := t.TempDir()
	rows := randomRows(rand.New(rand.NewPCG(5, 5)), "r", 4, testAudioShape, testFrameShape)
	w1, err := NewWriter(dir, "a.arrow", testAudioShape, testFrameShape)
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Append(rows[0]); err != nil {
		t.Fatal(err)
	}
	audio, frames := unsafe.SliceData(w1.audio), unsafe.SliceData(w1.frames)
	done := make(chan error)
	go func() { _, err := w1.Commit(); done <- err }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	w2, err := NewWriter(dir, "b.arrow", testAudioShape, testFrameShape)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Abort()
	if err := w2.Append(rows[1]); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(w2.audio) != audio || unsafe.SliceData(w2.frames) != frames {
		t.Error("the second writer allocated new column buffers instead of reusing the first's")
	}
}

// mappedRSS is the resident size in bytes of this process's mappings of path, from
// /proc/self/smaps (-1 where that file does not exist).
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return -1
	}
	total, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4: // a mapping's first line
			in = len(f) >= 6 && f[5] == path
		case in && len(f) == 3 && f[0] == "Rss:":
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			total += kb << 10
		}
	}
	return total
}

// TestEvict checks that evicted rows leave the resident set and still read back the same.
func TestEvict(t *testing.T) {
	dir := t.TempDir()
	as, fs := []int{64, 100}, []int{2, 32, 32, 3} // 25.6 kB of audio and 6 kB of frames a row
	rows := randomRows(rand.New(rand.NewPCG(5, 6)), "e", 40, as, fs)
	w, err := NewWriter(dir, "e.arrow", as, fs, WithBatchRows(16))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, row := range rows {
		if err := w.Append(row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "e.arrow")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sum := func() (s float64) {
		for i := range rows {
			row := r.Row(i)
			for _, v := range row.Audio {
				s += float64(v)
			}
			for _, v := range row.Frames {
				s += float64(v)
			}
		}
		return s
	}
	want := sum()
	before := mappedRSS(t, path)
	if before < 0 {
		t.Skip("no /proc/self/smaps to read the resident set from")
	}
	for i := range rows {
		r.Evict(i)
	}
	r.Evict(-1)
	r.Evict(len(rows))
	after := mappedRSS(t, path)
	if after > before/4 {
		t.Errorf("resident %d bytes of the map after evicting every row, %d before", after, before)
	}
	for i, want := range rows {
		got := r.Row(i)
		if !slices.Equal(got.Audio, want.Audio) || !bytes.Equal(got.Frames, want.Frames) {
			t.Fatalf("row %d reads differently after Evict", i)
		}
	}
	if got := sum(); got != want {
		t.Fatalf("sum %g after Evict, %g before", got, want)
	}
}

// TestReadsVersion1: a shard of schema version 1 (before the notes column), as avbalance wrote
// them, still opens; its rows have no notes.
func TestReadsVersion1(t *testing.T) {
	rows := randomRows(rand.New(rand.NewPCG(5, 5)), "v1", 3, testAudioShape, testFrameShape)
	v2, err := NewSchema(testAudioShape, testFrameShape)
	if err != nil {
		t.Fatal(err)
	}
	md := arrow.NewMetadata([]string{metaSchemaVersion}, []string{"1"})
	schema := arrow.NewSchema(v2.Fields()[:colNotes], &md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(colClipID).(*array.StringBuilder).Append(r.ClipID)
		b.Field(colLabel).(*array.Int32Builder).Append(r.Label)
		b.Field(colSplit).(*array.StringBuilder).Append(r.Split)
		fl := b.Field(colAudio).(*array.FixedSizeListBuilder)
		fl.Append(true)
		fl.ValueBuilder().(*array.Float32Builder).AppendValues(r.Audio, nil)
		b.Field(colFrames).(*array.FixedSizeBinaryBuilder).Append(r.Frames)
		b.Field(colDurationS).(*array.Float32Builder).Append(r.DurationS)
		b.Field(colSource).(*array.StringBuilder).Append(r.Source)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "v1.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := Open(path)
	if err != nil {
		t.Fatalf("a version 1 shard does not open: %v", err)
	}
	defer r.Close()
	if r.SchemaVersion() != 1 || r.NumRows() != 3 {
		t.Fatalf("version %d, %d rows", r.SchemaVersion(), r.NumRows())
	}
	for i, want := range rows {
		want.Notes = ""
		if got := r.Row(i); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if notes := r.Notes(); len(notes) != 3 || notes[0] != "" {
		t.Errorf("notes of a version 1 shard: %q", notes)
	}
}
