package shard

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaVersion is the shard schema version this package writes. It is stored in the Arrow
// schema metadata under "avbalance.schema_version" and in index.json as "schema_version".
// Version 2 added the notes column; shards and index files of version 1 are still read (their
// rows have no notes).
const SchemaVersion = 2

// minSchemaVersion is the oldest schema version this package reads.
const minSchemaVersion = 1

// File names inside an extraction output folder.
const (
	IndexFile    = "index.json"     // the Index, written atomically
	FailuresFile = "failures.jsonl" // one Failure per line
	Ext          = ".arrow"         // suffix of committed shard files
	TempExt      = ".tmp"           // suffix of files being written; never read, removed by CleanTemp
)

// Column names, in schema order.
const (
	ColClipID    = "clip_id"
	ColLabel     = "label"
	ColSplit     = "split"
	ColAudio     = "audio"
	ColFrames    = "frames"
	ColDurationS = "duration_s"
	ColSource    = "source"
	ColNotes     = "notes" // since schema version 2
)

const (
	metaSchemaVersion = "avbalance.schema_version"
	metaShape         = "shape"
)

// column indices in schema order.
const (
	colClipID = iota
	colLabel
	colSplit
	colAudio
	colFrames
	colDurationS
	colSource
	colNotes
	numCols
)

// ShardName returns the conventional name of the i-th shard of a run: "shard-00000.arrow".
func ShardName(i int) string { return fmt.Sprintf("shard-%05d%s", i, Ext) }

// NewSchema returns the Arrow schema of a shard whose audio feature has audioShape (row-major,
// e.g. [128 300]) and whose frames have frameShape [N H W 3].
func NewSchema(audioShape, frameShape []int) (*arrow.Schema, error) {
	audioLen, err := shapeLen(audioShape, "audio")
	if err != nil {
		return nil, err
	}
	frameLen, err := shapeLen(frameShape, "frames")
	if err != nil {
		return nil, err
	}
	if len(frameShape) != 4 || frameShape[3] != 3 {
		return nil, fmt.Errorf("shard: frame shape %v is not [N H W 3]", frameShape)
	}
	shapeMeta := func(s []int) arrow.Metadata {
		return arrow.NewMetadata([]string{metaShape}, []string{formatShape(s)})
	}
	fields := []arrow.Field{
		{Name: ColClipID, Type: arrow.BinaryTypes.String},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColSplit, Type: arrow.BinaryTypes.String},
		{Name: ColAudio, Type: arrow.FixedSizeListOfNonNullable(int32(audioLen), arrow.PrimitiveTypes.Float32),
			Metadata: shapeMeta(audioShape)},
		{Name: ColFrames, Type: &arrow.FixedSizeBinaryType{ByteWidth: frameLen}, Metadata: shapeMeta(frameShape)},
		{Name: ColDurationS, Type: arrow.PrimitiveTypes.Float32},
		{Name: ColSource, Type: arrow.BinaryTypes.String},
		{Name: ColNotes, Type: arrow.BinaryTypes.String},
	}
	md := arrow.NewMetadata([]string{metaSchemaVersion}, []string{strconv.Itoa(SchemaVersion)})
	return arrow.NewSchema(fields, &md), nil
}

// shapeLen returns the product of shape's dimensions, checking that every dimension is positive
// and that the product fits an Arrow fixed-size type (int32).
func shapeLen(shape []int, what string) (int, error) {
	if len(shape) == 0 {
		return 0, fmt.Errorf("shard: %s shape is empty", what)
	}
	n := 1
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("shard: %s shape %v has a non-positive dimension", what, shape)
		}
		if n > math.MaxInt32/d {
			return 0, fmt.Errorf("shard: %s shape %v has more than %d elements", what, shape, math.MaxInt32)
		}
		n *= d
	}
	return n, nil
}

func formatShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ",")
}

func parseShape(s, what string) ([]int, int, error) {
	parts := strings.Split(s, ",")
	if len(parts) > 8 {
		return nil, 0, fmt.Errorf("%s shape %q has more than 8 dimensions", what, s)
	}
	shape := make([]int, len(parts))
	for i, p := range parts {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, 0, fmt.Errorf("%s shape %q: %v", what, s, err)
		}
		shape[i] = d
	}
	n, err := shapeLen(shape, what)
	if err != nil {
		return nil, 0, err
	}
	return shape, n, nil
}

// checkSchema verifies that s is a shard schema of a version this build reads and returns its
// version and shapes.
func checkSchema(s *arrow.Schema) (version int, audioShape, frameShape []int, err error) {
	md := s.Metadata()
	v, ok := md.GetValue(metaSchemaVersion)
	if !ok {
		return 0, nil, nil, fmt.Errorf("schema has no %q metadata: not an avbalance shard", metaSchemaVersion)
	}
	if version, err = strconv.Atoi(v); err != nil || version < minSchemaVersion || version > SchemaVersion {
		return 0, nil, nil, fmt.Errorf("schema version %q, this build reads %d to %d", v, minSchemaVersion, SchemaVersion)
	}
	want := []struct {
		name string
		id   arrow.Type
	}{
		{ColClipID, arrow.STRING}, {ColLabel, arrow.INT32}, {ColSplit, arrow.STRING},
		{ColAudio, arrow.FIXED_SIZE_LIST}, {ColFrames, arrow.FIXED_SIZE_BINARY},
		{ColDurationS, arrow.FLOAT32}, {ColSource, arrow.STRING}, {ColNotes, arrow.STRING},
	}
	want = want[:columns(version)]
	if s.NumFields() != len(want) {
		return 0, nil, nil, fmt.Errorf("schema has %d columns, version %d has %d", s.NumFields(), version, len(want))
	}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || f.Type.ID() != w.id {
			return 0, nil, nil, fmt.Errorf("column %d is %s %s, want %s %s", i, f.Name, f.Type, w.name, w.id)
		}
	}
	audio := s.Field(colAudio)
	fsl := audio.Type.(*arrow.FixedSizeListType)
	if fsl.Elem().ID() != arrow.FLOAT32 {
		return 0, nil, nil, fmt.Errorf("column audio holds %s, want float32", fsl.Elem())
	}
	shapeOf := func(f arrow.Field) ([]int, int, error) {
		v, ok := f.Metadata.GetValue(metaShape)
		if !ok {
			return nil, 0, fmt.Errorf("column %s has no %q metadata", f.Name, metaShape)
		}
		return parseShape(v, f.Name)
	}
	audioShape, n, err := shapeOf(audio)
	if err != nil {
		return 0, nil, nil, err
	}
	if n != int(fsl.Len()) {
		return 0, nil, nil, fmt.Errorf("column audio shape %v has %d values but the list size is %d", audioShape, n, fsl.Len())
	}
	frames := s.Field(colFrames)
	frameShape, n, err = shapeOf(frames)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(frameShape) != 4 || frameShape[3] != 3 {
		return 0, nil, nil, fmt.Errorf("column frames shape %v is not [N H W 3]", frameShape)
	}
	if w := frames.Type.(*arrow.FixedSizeBinaryType).ByteWidth; n != w {
		return 0, nil, nil, fmt.Errorf("column frames shape %v has %d bytes but the byte width is %d", frameShape, n, w)
	}
	return version, audioShape, frameShape, nil
}

// columns is the number of columns of a shard of schema version v.
func columns(v int) int {
	if v < 2 {
		return colNotes // version 1: no notes
	}
	return numCols
}
