package train

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"

	"gorgonia.org/tensor"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// checkpoint is the gob-encoded content of checkpoint.bin and best.bin.
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
	BestOK    bool   // BestEpoch met the method's admission rule
	Rule      string // the method's admission rule, if any
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
		BestEpoch: t.bestEpoch, BestScore: t.bestScore, BestOK: t.bestOK, Rule: t.rule}
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

func saveCheckpoint(path string, ck *checkpoint) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(ck); err != nil {
		return fmt.Errorf("train: encode %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes())
}

func loadCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var ck checkpoint
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&ck); err != nil {
		return nil, fmt.Errorf("train: checkpoint %s is damaged: %w", path, err)
	}
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
