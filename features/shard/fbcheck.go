package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// This file bounds-checks the flatbuffer metadata of an Arrow IPC file before arrow-go reads it.
// arrow-go (v18) has no flatbuffer verifier: an index out of range in a corrupt file is a panic it
// mostly recovers from, but a vector length it trusts is used as make([]T, n) — up to 2^32 elements,
// which can abort the process with "out of memory" instead of returning an error. checkFile walks
// every vector that arrow-go allocates from (schema fields and children, custom metadata, footer
// blocks, record batch nodes and buffers) and rejects what a shard never contains (dictionaries,
// compression, non-shard column types).

var arrowMagic = []byte("ARROW1")

// flatbuf enum values used below (Arrow format Schema.fbs / Message.fbs).
const (
	fbTypeInt             = 2
	fbTypeFloatingPoint   = 3
	fbTypeUtf8            = 5
	fbTypeFixedSizeBinary = 15
	fbTypeFixedSizeList   = 16
	fbHeaderRecordBatch   = 3
	fbBlockSize           = 24 // struct Block { offset: long; metaDataLength: int; bodyLength: long }
	fbMaxVector           = 64 // most fields / key-values a shard's metadata has, with room to spare
	fbContinuation        = 0xFFFFFFFF
)

type fbTable struct {
	b        []byte
	pos, vt  int
	vtFields int
}

func fbU32(b []byte, pos int) (int, error) {
	if pos < 0 || pos > len(b)-4 {
		return 0, fmt.Errorf("flatbuffer offset %d out of bounds (size %d)", pos, len(b))
	}
	return int(binary.LittleEndian.Uint32(b[pos:])), nil
}

func fbRoot(b []byte) (fbTable, error) {
	off, err := fbU32(b, 0)
	if err != nil {
		return fbTable{}, err
	}
	return fbTableAt(b, off)
}

func fbTableAt(b []byte, pos int) (fbTable, error) {
	so, err := fbU32(b, pos)
	if err != nil {
		return fbTable{}, err
	}
	vt := pos - int(int32(uint32(so)))
	if vt < 0 || vt > len(b)-4 {
		return fbTable{}, fmt.Errorf("flatbuffer vtable at %d out of bounds", vt)
	}
	size := int(binary.LittleEndian.Uint16(b[vt:]))
	if size < 4 || size%2 != 0 || vt+size > len(b) {
		return fbTable{}, fmt.Errorf("flatbuffer vtable at %d has bad size %d", vt, size)
	}
	return fbTable{b: b, pos: pos, vt: vt, vtFields: (size - 4) / 2}, nil
}

// field returns the absolute position of field i, or 0 when the field is absent.
func (t fbTable) field(i int) int {
	if i >= t.vtFields {
		return 0
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vt+4+2*i:]))
	if off == 0 {
		return 0
	}
	return t.pos + off
}

func (t fbTable) u8(i int) (int, error) {
	p := t.field(i)
	if p == 0 {
		return 0, nil
	}
	if p >= len(t.b) {
		return 0, fmt.Errorf("flatbuffer field at %d out of bounds", p)
	}
	return int(t.b[p]), nil
}

// ref follows the offset stored in field i; ok is false when the field is absent.
func (t fbTable) ref(i int) (pos int, ok bool, err error) {
	p := t.field(i)
	if p == 0 {
		return 0, false, nil
	}
	off, err := fbU32(t.b, p)
	if err != nil {
		return 0, false, err
	}
	return p + off, true, nil
}

func (t fbTable) table(i int) (fbTable, bool, error) {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return fbTable{}, ok, err
	}
	c, err := fbTableAt(t.b, p)
	return c, true, err
}

// vector returns the element start and length of the vector in field i, checking that n elements
// of elem bytes fit in the buffer and that n <= limit.
func (t fbTable) vector(i, elem, limit int) (start, n int, err error) {
	p, ok, err := t.ref(i)
	if !ok || err != nil {
		return 0, 0, err
	}
	n, err = fbU32(t.b, p)
	if err != nil {
		return 0, 0, err
	}
	start = p + 4
	if n > limit || n > (len(t.b)-start)/elem {
		return 0, 0, fmt.Errorf("flatbuffer vector of %d elements at %d does not fit (size %d)", n, p, len(t.b))
	}
	return start, n, nil
}

// tables checks a vector of tables in field i with check.
func (t fbTable) tables(i int, check func(fbTable) error) error {
	start, n, err := t.vector(i, 4, fbMaxVector)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		p := start + 4*k
		off, _ := fbU32(t.b, p)
		c, err := fbTableAt(t.b, p+off)
		if err != nil {
			return err
		}
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

func checkKeyValues(t fbTable, i int) error {
	return t.tables(i, func(kv fbTable) error {
		for f := 0; f < 2; f++ {
			if _, _, err := kv.vector(f, 1, len(kv.b)); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkField(f fbTable, depth int) error {
	if _, _, err := f.vector(0, 1, len(f.b)); err != nil { // name
		return err
	}
	switch tt, err := f.u8(2); {
	case err != nil:
		return err
	case tt != fbTypeInt && tt != fbTypeFloatingPoint && tt != fbTypeUtf8 &&
		tt != fbTypeFixedSizeBinary && tt != fbTypeFixedSizeList:
		return fmt.Errorf("column type %d never occurs in a shard", tt)
	}
	if _, _, err := f.table(3); err != nil { // type
		return err
	}
	if p := f.field(4); p != 0 {
		return errors.New("dictionary-encoded column never occurs in a shard")
	}
	limit := 1
	if depth > 0 {
		limit = 0
	}
	start, n, err := f.vector(5, 4, limit) // children: one for the audio list, none below it
	if err != nil {
		return err
	}
	if n == 1 {
		off, _ := fbU32(f.b, start)
		c, err := fbTableAt(f.b, start+off)
		if err != nil {
			return err
		}
		if err := checkField(c, depth+1); err != nil {
			return err
		}
	}
	return checkKeyValues(f, 6)
}

// checkFile bounds-checks the footer, the schema and every record batch message of an Arrow file.
func checkFile(data []byte) error {
	const tail = 4 + 6 // footer length + "ARROW1"
	if len(data) < 8+tail || !bytes.Equal(data[:6], arrowMagic) || !bytes.Equal(data[len(data)-6:], arrowMagic) {
		return errors.New("not an Arrow IPC file (missing ARROW1 magic; truncated?)")
	}
	size, _ := fbU32(data, len(data)-tail)
	if size <= 0 || size > len(data)-8-tail {
		return fmt.Errorf("footer length %d does not fit the file (size %d)", size, len(data))
	}
	footer, err := fbRoot(data[len(data)-tail-size : len(data)-tail])
	if err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	schema, ok, err := footer.table(1)
	if err == nil && !ok {
		err = errors.New("no schema")
	}
	if err == nil {
		err = schema.tables(1, func(f fbTable) error { return checkField(f, 0) })
	}
	if err == nil {
		err = checkKeyValues(schema, 2)
	}
	if err == nil {
		_, _, err = schema.vector(3, 8, fbMaxVector) // features
	}
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := checkKeyValues(footer, 4); err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	if _, n, err := footer.vector(2, fbBlockSize, 0); err != nil || n != 0 {
		return errors.New("footer lists dictionaries, which never occur in a shard")
	}
	start, n, err := footer.vector(3, fbBlockSize, len(data))
	if err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	for i := 0; i < n; i++ {
		blk := footer.b[start+i*fbBlockSize:]
		off := int64(binary.LittleEndian.Uint64(blk))
		meta := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
		if err := checkMessage(data, off, meta); err != nil {
			return fmt.Errorf("record batch %d: %w", i, err)
		}
	}
	return nil
}

func checkMessage(data []byte, off, meta int64) error {
	if off < 0 || meta < 8 || off > int64(len(data)) || meta > int64(len(data))-off {
		return fmt.Errorf("block at %d with metadata length %d outside the file", off, meta)
	}
	b := data[off : off+meta]
	prefix := 4
	if binary.LittleEndian.Uint32(b) == fbContinuation {
		prefix = 8
	}
	msg, err := fbRoot(b[prefix:])
	if err != nil {
		return err
	}
	if ht, err := msg.u8(1); err != nil {
		return err
	} else if ht != fbHeaderRecordBatch {
		return fmt.Errorf("message type %d is not a record batch", ht)
	}
	if err := checkKeyValues(msg, 4); err != nil {
		return err
	}
	rb, ok, err := msg.table(2)
	if err == nil && !ok {
		err = errors.New("record batch message has no header")
	}
	if err != nil {
		return err
	}
	if _, _, err := rb.vector(1, 16, len(b)); err != nil { // nodes
		return err
	}
	if _, _, err := rb.vector(2, 16, len(b)); err != nil { // buffers
		return err
	}
	if rb.field(3) != 0 {
		return errors.New("compressed record batch never occurs in a shard")
	}
	_, _, err = rb.vector(4, 8, len(b)) // variadic buffer counts
	return err
}
