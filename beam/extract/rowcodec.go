package extract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/avbalance/avbalance/features/shard"
)

// Rows travel between the extract and write steps as one []byte each (Beam's
// bytes coder is the cheapest): the clip id first, so the write step can sort
// without decoding the features, then the other columns. Floats are stored as
// their IEEE bits, so values come out bit-identical.
//
//	uvarint len, clip id | uvarint len, split | uvarint len, source | int32 label |
//	float32 duration | uvarint n, n float32 audio | uvarint n, n bytes frames | uvarint len, notes

func encodeRow(r *shard.Row) []byte {
	n := 6*binary.MaxVarintLen64 + len(r.ClipID) + len(r.Split) + len(r.Source) + 8 + 4*len(r.Audio) + len(r.Frames) + len(r.Notes)
	b := make([]byte, 0, n)
	b = appendString(b, r.ClipID)
	b = appendString(b, r.Split)
	b = appendString(b, r.Source)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.Label))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(r.DurationS))
	b = binary.AppendUvarint(b, uint64(len(r.Audio)))
	for _, v := range r.Audio {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Frames)))
	b = append(b, r.Frames...)
	return appendString(b, r.Notes)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errShortRow = errors.New("encoded row is truncated")

type rowReader struct {
	b   []byte
	err error
}

func (r *rowReader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)) {
		r.err = errShortRow
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *rowReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errShortRow
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *rowReader) uint32() uint32 {
	v := r.bytes(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

// rowID returns the clip id of an encoded row without decoding the rest.
func rowID(b []byte) string {
	r := rowReader{b: b}
	return string(r.bytes(r.uvarint()))
}

// decodeRow decodes an encoded row. Frames alias b.
func decodeRow(b []byte) (shard.Row, error) {
	r := rowReader{b: b}
	var row shard.Row
	row.ClipID = string(r.bytes(r.uvarint()))
	row.Split = string(r.bytes(r.uvarint()))
	row.Source = string(r.bytes(r.uvarint()))
	row.Label = int32(r.uint32())
	row.DurationS = math.Float32frombits(r.uint32())
	na := r.uvarint()
	ab := r.bytes(4 * na)
	if r.err == nil {
		row.Audio = make([]float32, na)
		for i := range row.Audio {
			row.Audio[i] = math.Float32frombits(binary.LittleEndian.Uint32(ab[4*i:]))
		}
	}
	row.Frames = r.bytes(r.uvarint())
	row.Notes = string(r.bytes(r.uvarint()))
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over after the row", len(r.b))
	}
	if r.err != nil {
		return shard.Row{}, fmt.Errorf("clip %q: %w", row.ClipID, r.err)
	}
	return row, nil
}
