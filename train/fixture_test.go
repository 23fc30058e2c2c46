package train

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The method fixtures share grad_test.go's float64 model, fixed weights and
// batch with the PyTorch scripts in testdata/ (which import
// penalty_reference.py's).

// refGrads are a reference's gradients by parameter name: the values at
// some indices and the norm.
type refGrads map[string]struct {
	Index []int     `json:"index"`
	Grad  []float64 `json:"grad"`
	Norm  float64   `json:"norm"`
}

// readFixture decodes testdata/name into v.
func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// fixtureNet compiles meth's float64 training graph over the fixed weights
// (the head's video parameters times videoGain) and feeds the fixed batch
// with labels.
func fixtureNet(t *testing.T, mode Mode, head Head, meth Method, labels []int, videoGain float64) *net {
	t.Helper()
	s := spec{mode: mode, uses: Both, arch: ModelSmall, head: head, embed: gcEmbed, classes: gcClasses,
		audioShape: gcAudio, frameShape: gcFrame, dt: tensor.Float64, target: Target{0.5, 0.5}}
	m := newModel(s, 1)
	n, err := buildNet(m, gcBatch, meth, netOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setFixedWeights(m)
	for _, p := range m.params {
		if strings.HasPrefix(p.name, "head.video.") {
			d := p.t.Data().([]float64)
			for j := range d {
				d[j] *= videoGain
			}
		}
	}
	in := gcInputs()
	in.labels = labels
	if err := n.feed(in); err != nil {
		t.Fatal(err)
	}
	return n
}

// fixtureGrads runs n and returns the gradient of every parameter in
// n.used order: through the primary nodes, and through each replica.
func fixtureGrads(t *testing.T, n *net) (primary [][]float64, replicas [][][]float64) {
	t.Helper()
	if err := n.run(); err != nil {
		t.Fatal(err)
	}
	for _, g := range n.grads {
		primary = append(primary, values64(g))
	}
	for _, r := range n.replicas {
		rg := make([][]float64, len(n.used))
		for j, i := range r.at {
			rg[i] = values64(r.grads[j])
		}
		replicas = append(replicas, rg)
	}
	return primary, replicas
}

// checkGrads compares grads (n.used order) with a reference, to rel.
func checkGrads(t *testing.T, what string, n *net, grads [][]float64, ref refGrads, rel float64) {
	t.Helper()
	if len(ref) != len(n.used) {
		t.Errorf("%s: %d parameters, the reference %d", what, len(n.used), len(ref))
	}
	for i, p := range n.used {
		r, ok := ref[p.name]
		if !ok {
			t.Errorf("%s: %s not in the reference", what, p.name)
			continue
		}
		norm := 0.0
		for _, v := range grads[i] {
			norm += v * v
		}
		checkClose(t, what+" |"+p.name+"|", 0, math.Sqrt(norm), r.Norm, rel, 1e-12)
		for k, j := range r.Index {
			checkClose(t, what+" "+p.name, j, grads[i][j], r.Grad[k], rel, 1e-12)
		}
	}
}

// replicaProbe is a method whose loss reads an encoder replica, a
// zero-input replica and the head applied to them.
type replicaProbe struct {
	NoHooks
	part, padded *G.Node
}

func (m *replicaProbe) Loss(g *Graph) (*G.Node, error) {
	e, _ := g.Replica(0)
	e0, _ := g.ZeroReplica(1)
	m.part = g.Part(0, e)
	m.padded, _ = g.HeadAt([2]*G.Node{g.Emb[0], e0})
	return must(G.Add(g.Mean(g.NLL(m.part)), must(G.Mul(g.Scalar(0.7), g.Mean(g.NLL(m.padded)))))), nil
}

// TestReplicaGradients checks the framework's encoder replicas: with the
// replica gradients added to the primary ones (as the trainer does), every
// parameter's gradient equals the central difference of the loss; Part
// equals attribution's Head.Part and Head on the zero-input replica the
// head on the zero input's embedding.
func TestReplicaGradients(t *testing.T) {
	for _, head := range []Head{HeadConcat, HeadSum, HeadMLP} {
		meth := &replicaProbe{}
		n := fixtureNet(t, ModeConcat, head, meth, []int{0, 2, 1}, 1)
		grads, replicas := fixtureGrads(t, n)
		if len(replicas) != 2 {
			t.Fatalf("%d replicas, want 2", len(replicas))
		}
		h := n.m.attrHead()
		emb := [2][]float64{values64(n.emb[0]), values64(n.emb[1])}
		part := values64(meth.part)
		buf := make([]float64, gcClasses)
		for i := 0; i < gcBatch; i++ {
			want := h.Part(buf, 0, emb[0][i*gcEmbed:(i+1)*gcEmbed])
			for k, v := range want {
				checkClose(t, string(head)+" part", i*gcClasses+k, part[i*gcClasses+k], v, 1e-12, 1e-12)
			}
		}
		zero := buildZeroEmbedding(t, n.m)
		padded := values64(meth.padded)
		for i := 0; i < gcBatch; i++ {
			want := h.Logits(buf, [2][]float64{emb[0][i*gcEmbed : (i+1)*gcEmbed], zero})
			for k, v := range want {
				checkClose(t, string(head)+" padded logits", i*gcClasses+k, padded[i*gcClasses+k], v, 1e-12, 1e-12)
			}
		}
		addReplicas(grads, replicas)
		for i, p := range n.used {
			d := p.t.Data().([]float64)
			if head != HeadMLP {
				continue // parts and padded logits checked; the differences are slow
			}
			for _, j := range []int{0, len(d) - 1} {
				checkClose(t, string(head)+" "+p.name, j, grads[i][j], centralDiff(n, d, j), 1e-6, 1e-9)
			}
		}
	}
}

// buildZeroEmbedding is the video embedding of an all-zero clip, from an
// evaluation graph of one clip.
func buildZeroEmbedding(t *testing.T, m *model) []float64 {
	t.Helper()
	en, err := buildNet(m, 1, nil, netOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := inputs{audio: make([]float64, gcAudio[0]*gcAudio[1]), frames: make([]float64, gcFrame[0]*3*gcFrame[1]*gcFrame[2]),
		labels: []int{0}, n: 1}
	if err := en.feed(in); err != nil {
		t.Fatal(err)
	}
	if err := en.run(); err != nil {
		t.Fatal(err)
	}
	return values64(en.emb[1])
}
