package train

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"os"

	"gorgonia.org/tensor"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// checkpoint is the content of checkpoint.bin and best.bin (see
// saveCheckpoint for the file format).
type checkpoint struct {
	Epoch     int // epochs completed
	Params    []savedTensor
	BN        []savedBN
	OptSteps  int
	OptFirst  [][]float32
	OptSecond [][]float32
	Method    []byte // the method's state (Method.State)
	BestEpoch int    // -1 before the first validation
	BestScore float64
	BestCE    float64 // BestEpoch's val cross-entropy, which breaks ties in BestScore
	BestRank  int     // BestEpoch's rank by the method's admission rule (Method.Eligible)
	// BestOK is how checkpoints before BestRank (trainer revision 3) said
	// BestEpoch met the rule: rank 1 (checkpoints still read it).
	BestOK  bool
	Rule    string // the method's admission rule, if any
	Lengths []int  // in a file: the length of every float slice, in floatSlices order
}

// bestRank is BestRank, or 1 for an older checkpoint whose BestOK is set.
func (ck *checkpoint) bestRank() int {
	if ck.BestOK && ck.BestRank == 0 {
		return 1
	}
	return ck.BestRank
}

type savedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

type savedBN struct {
	Name      string
	Mean, Var []float32
}

func (t *trainer) snapshot(epoch int) (*checkpoint, error) {
	ck := &checkpoint{Epoch: epoch, OptSteps: t.opt.steps, OptFirst: t.opt.first, OptSecond: t.opt.secnd,
		BestEpoch: t.bestEpoch, BestScore: t.best.accuracy, BestCE: t.best.ce, BestRank: t.best.rank, Rule: t.rule}
	for _, p := range t.m.params {
		ck.Params = append(ck.Params, savedTensor{Name: p.name, Shape: p.t.Shape().Clone(), Data: p.t.Data().([]float32)})
	}
	for name, op := range t.m.bn {
		mean, vr := op.Stats()
		ck.BN = append(ck.BN, savedBN{Name: name, Mean: mean.Data().([]float32), Var: vr.Data().([]float32)})
	}
	var err error
	if ck.Method, err = t.method.State(); err != nil {
		return nil, err
	}
	return ck, nil
}

// floatSlices points to every float slice of ck: the parameters, the
// batch-norm statistics, the optimizer's moments, in that order.
func (ck *checkpoint) floatSlices() []*[]float32 {
	var out []*[]float32
	for i := range ck.Params {
		out = append(out, &ck.Params[i].Data)
	}
	for i := range ck.BN {
		out = append(out, &ck.BN[i].Mean, &ck.BN[i].Var)
	}
	for i := range ck.OptFirst {
		out = append(out, &ck.OptFirst[i])
	}
	for i := range ck.OptSecond {
		out = append(out, &ck.OptSecond[i])
	}
	return out
}

// checkpointMagic starts a checkpoint file of the current format: the
// magic, the length of the gob-encoded header (the checkpoint without its
// float data, uint64 little-endian), the header, then every float slice as
// little-endian float32 in floatSlices order. Files without it are the
// older format, the whole checkpoint gob-encoded (gob writes floats one by
// one, which took a tenth of a small model's training time).
const checkpointMagic = "avbalance checkpoint 2\n"

// saveCheckpoint encodes ck once and writes it to every path, in order.
func saveCheckpoint(ck *checkpoint, paths ...string) error {
	b, err := encodeCheckpoint(ck)
	if err != nil {
		return fmt.Errorf("train: encode %s: %w", paths[0], err)
	}
	for _, path := range paths {
		if err := atomicfile.Write(path, b); err != nil {
			return err
		}
	}
	return nil
}

// encodeCheckpoint is ck in the current format (checkpointMagic).
func encodeCheckpoint(ck *checkpoint) ([]byte, error) {
	head := *ck
	head.Params = append([]savedTensor(nil), ck.Params...)
	head.BN = append([]savedBN(nil), ck.BN...)
	head.OptFirst, head.OptSecond = make([][]float32, len(ck.OptFirst)), make([][]float32, len(ck.OptSecond))
	data := ck.floatSlices()
	head.Lengths = make([]int, len(data))
	n := 0
	for i, f := range data {
		head.Lengths[i] = len(*f)
		n += len(*f)
	}
	for _, f := range head.floatSlices() {
		*f = nil
	}
	var hb bytes.Buffer
	if err := gob.NewEncoder(&hb).Encode(&head); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(checkpointMagic)+8+hb.Len()+4*n)
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(hb.Len()))
	b = append(b, hb.Bytes()...)
	// A plain loop: binary.Append took 3.5× as long (2.6 against 0.74 ms
	// for the tiny model's 2.4 MB, at every epoch's save).
	for _, f := range data {
		for _, v := range *f {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b, nil
}

func loadCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	damaged := func(err error) (*checkpoint, error) {
		return nil, fmt.Errorf("train: checkpoint %s is damaged: %w", path, err)
	}
	var ck checkpoint
	rest, ok := bytes.CutPrefix(b, []byte(checkpointMagic))
	if !ok { // the older format
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&ck); err != nil {
			return damaged(err)
		}
		return &ck, nil
	}
	if len(rest) < 8 || binary.LittleEndian.Uint64(rest) > uint64(len(rest)-8) {
		return damaged(fmt.Errorf("truncated header"))
	}
	hn := int(binary.LittleEndian.Uint64(rest))
	if err := gob.NewDecoder(bytes.NewReader(rest[8 : 8+hn])).Decode(&ck); err != nil {
		return damaged(err)
	}
	rest = rest[8+hn:]
	data := ck.floatSlices()
	if len(data) != len(ck.Lengths) {
		return damaged(fmt.Errorf("%d float slices, %d lengths", len(data), len(ck.Lengths)))
	}
	for i, f := range data {
		n := ck.Lengths[i]
		if n < 0 || 4*n > len(rest) {
			return damaged(fmt.Errorf("truncated data"))
		}
		*f = make([]float32, n)
		if _, err := binary.Decode(rest[:4*n], binary.LittleEndian, *f); err != nil {
			return damaged(err)
		}
		rest = rest[4*n:]
	}
	if len(rest) != 0 {
		return damaged(fmt.Errorf("%d bytes after the data", len(rest)))
	}
	ck.Lengths = nil
	return &ck, nil
}

// restoreWeights copies parameters and batch-norm statistics into m.
func (m *model) restoreWeights(ck *checkpoint, path string) error {
	if len(ck.Params) != len(m.params) {
		return fmt.Errorf("train: checkpoint %s has %d tensors, the model %d: was it written for another config?",
			path, len(ck.Params), len(m.params))
	}
	for i, s := range ck.Params {
		p := m.params[i]
		if s.Name != p.name || !p.t.Shape().Eq(tensor.Shape(s.Shape)) {
			return fmt.Errorf("train: checkpoint %s: tensor %s %v does not match the model's %s %v",
				path, s.Name, s.Shape, p.name, p.t.Shape())
		}
		copy(p.t.Data().([]float32), s.Data)
	}
	for _, s := range ck.BN {
		op, ok := m.bn[s.Name]
		if !ok {
			return fmt.Errorf("train: checkpoint %s: batch norm %s not in the model", path, s.Name)
		}
		if err := op.SetStats(tensor.New(tensor.WithBacking(s.Mean)), tensor.New(tensor.WithBacking(s.Var))); err != nil {
			return fmt.Errorf("train: checkpoint %s: %s: %w", path, s.Name, err)
		}
	}
	return nil
}
