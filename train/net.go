package train

import (
	"fmt"

	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// inputs is one batch in the graph's dtype-independent form.
type inputs struct {
	audio  any // []float32 or []float64, [B,1,F,T]
	frames any // [B·N,3,H,W]
	labels []int
	n      int // real rows; the rest is padding
}

func (n *net) dense(data any, shape tensor.Shape) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// feed binds a batch to the graph's inputs.
func (n *net) feed(in inputs) error {
	s := n.m.spec
	if n.audio != nil {
		if err := G.Let(n.audio, n.dense(in.audio, n.audio.Shape())); err != nil {
			return err
		}
	}
	if n.frames != nil {
		if err := G.Let(n.frames, n.dense(in.frames, n.frames.Shape())); err != nil {
			return err
		}
	}
	oh := make([]float64, n.batch*s.classes)
	w := make([]float64, n.batch)
	for i := 0; i < in.n; i++ {
		oh[i*s.classes+in.labels[i]] = 1
		w[i] = 1 / float64(in.n)
	}
	if err := G.Let(n.onehot, n.dense(n.cast(oh), n.onehot.Shape())); err != nil {
		return err
	}
	if n.weight != nil {
		return G.Let(n.weight, n.dense(n.cast(w), n.weight.Shape()))
	}
	return nil
}

func (n *net) cast(x []float64) any { return op.Cast(x, n.m.spec.dt) }

// run executes the graph once (forward, and backward for training graphs).
func (n *net) run() error {
	defer n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("train: running the %s graph: %w", n.m.spec.mode, err)
	}
	return nil
}

// values64 copies a node's value to float64 (nil when it has none).
func values64(nd *G.Node) []float64 {
	if nd == nil {
		return nil
	}
	return op.Float64s(nd.Value())
}

// paramInfo describes the graph's parameters, in the order of its gradients.
func (n *net) paramInfo() []ParamInfo {
	out := make([]ParamInfo, len(n.used))
	for i, p := range n.used {
		out[i] = ParamInfo{Name: p.name, Group: p.group, Shape: p.t.Shape().Clone()}
	}
	return out
}

// syncBN copies the owning graph's batch-norm statistics into n's ops.
func (n *net) syncBN() error {
	for name, bn := range n.bnOps {
		if src := n.m.bn[name]; src != bn {
			mean, vr := src.Stats()
			if err := bn.SetStats(mean, vr); err != nil {
				return err
			}
		}
	}
	return nil
}
