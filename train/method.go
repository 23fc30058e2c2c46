package train

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Mode names a training mode: a unimodal baseline or a fusion method.
type Mode string

func (m Mode) String() string { return string(m) }

// Set implements flag.Value.
func (m *Mode) Set(s string) error {
	if _, err := LookupMethod(Mode(s)); err != nil {
		return err
	}
	*m = Mode(s)
	return nil
}

// ParseMode returns the registered mode named s.
func ParseMode(s string) (Mode, error) {
	var m Mode
	return m, m.Set(s)
}

// Modalities says which encoders a model has.
type Modalities uint8

// Modality sets.
const (
	AudioOnly Modalities = 1 << iota
	VideoOnly
	Both = AudioOnly | VideoOnly
)

// Audio reports an audio encoder.
func (u Modalities) Audio() bool { return u&AudioOnly != 0 }

// Video reports a video encoder.
func (u Modalities) Video() bool { return u&VideoOnly != 0 }

// MethodInfo registers a mode: a balancing method (or a unimodal baseline)
// and everything the trainer, the CLI and the docs need to know of it.
type MethodInfo struct {
	Mode    Mode
	Summary string     // one line for --help and the README's table
	Uses    Modalities // encoders of the model
	// NewConfig returns the method's hyperparameters at their defaults.
	NewConfig func() MethodConfig
	// New makes the method's state for one run of cfg (cfg.Method is the
	// method's own MethodConfig, already validated).
	New func(cfg *Config) (Method, error)
}

// MethodConfig is a method's own hyperparameters. It is JSON-encoded beside
// the run's other settings in config.json, so its field names must differ
// from Config's.
type MethodConfig interface {
	// Flags binds the hyperparameters to flags of fs; a flag's name must
	// be unique across all methods (the CLI's train verb has them all).
	Flags(fs *flag.FlagSet)
	// Validate reports what is wrong, naming the flags to change.
	Validate() error
}

// Method is a balancing method's part in one training run: what it adds
// to a training step. Embed NoHooks and implement what the method needs.
//
// A training step: BeforeStep sets the method's graph inputs; the graph
// runs forward and backward on the loss (mean cross-entropy plus what Loss
// added); AfterBackward may change the gradients; the optimizer steps.
type Method interface {
	// Loss is called once, when the training graph is built, and returns
	// the term added to the mean cross-entropy (a scalar; nil for none).
	Loss(g *Graph) (*G.Node, error)
	// BeforeStep runs before the forward pass of every training step.
	BeforeStep(s *Step) error
	// AfterBackward runs after the backward pass, before the optimizer.
	AfterBackward(s *Step) error
	// StartEpoch runs before an epoch's first step.
	StartEpoch(e *Epoch) error
	// EndEpoch runs after an epoch's train and val metrics are known (val
	// is nil without a val split).
	EndEpoch(e *Epoch, train Metrics, val *Metrics) error
	// Report completes a pass's metrics (e.g. Loss for a method whose loss
	// is not the cross-entropy alone).
	Report(m *Metrics)
	// Eligible ranks an epoch with these val metrics for the run's choice:
	// 0 is not admitted. Among admitted epochs the highest val accuracy
	// wins, each rank above 1 counting RankCredit val clips more (the
	// lower val cross-entropy on ties); when none is admitted, the highest
	// of all. rule describes the admission (empty: no rule); the chosen
	// epoch's is result.json's.
	Eligible(val Metrics) (rank int, rule string)
	// State and SetState save and restore what the method keeps between
	// steps (random generators, adaptive weights) in checkpoints.
	State() ([]byte, error)
	SetState([]byte) error
	// Prepare runs once before the first epoch a process trains (so also
	// when a run resumes), for what the method needs before training, such
	// as other runs to learn from.
	Prepare(p *Prep) error
}

// NoHooks implements every Method hook as doing nothing.
type NoHooks struct{}

// Loss implements Method.
func (NoHooks) Loss(*Graph) (*G.Node, error) { return nil, nil }

// BeforeStep implements Method.
func (NoHooks) BeforeStep(*Step) error { return nil }

// AfterBackward implements Method.
func (NoHooks) AfterBackward(*Step) error { return nil }

// StartEpoch implements Method.
func (NoHooks) StartEpoch(*Epoch) error { return nil }

// EndEpoch implements Method.
func (NoHooks) EndEpoch(*Epoch, Metrics, *Metrics) error { return nil }

// Report implements Method.
func (NoHooks) Report(*Metrics) {}

// Eligible implements Method: every epoch, no rule.
func (NoHooks) Eligible(Metrics) (int, string) { return 1, "" }

// State implements Method.
func (NoHooks) State() ([]byte, error) { return nil, nil }

// SetState implements Method.
func (NoHooks) SetState([]byte) error { return nil }

// Prepare implements Method.
func (NoHooks) Prepare(*Prep) error { return nil }

// NoParams is the MethodConfig of a method without hyperparameters.
type NoParams struct{}

// Flags implements MethodConfig.
func (*NoParams) Flags(*flag.FlagSet) {}

// Validate implements MethodConfig.
func (*NoParams) Validate() error { return nil }

var registry = map[Mode]MethodInfo{}

// RegisterMethod adds a mode; it panics on a duplicate mode or flag name
// (a programming error, caught by the package's tests).
func RegisterMethod(info MethodInfo) {
	if _, dup := registry[info.Mode]; dup {
		panic("train: mode " + string(info.Mode) + " registered twice")
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	for _, other := range registry {
		other.NewConfig().Flags(fs)
	}
	mine := flag.NewFlagSet("", flag.ContinueOnError)
	info.NewConfig().Flags(mine)
	mine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) != nil {
			panic(fmt.Sprintf("train: mode %s: flag %q is another method's", info.Mode, f.Name))
		}
	})
	registry[info.Mode] = info
}

// Methods lists the registered modes: the unimodal baselines, then naive
// fusion, then the balancing methods by name.
func Methods() []MethodInfo {
	out := make([]MethodInfo, 0, len(registry))
	for _, info := range registry {
		out = append(out, info)
	}
	rank := func(i MethodInfo) int {
		switch {
		case i.Mode == ModeAudio:
			return 0
		case i.Mode == ModeVideo:
			return 1
		case i.Uses != Both:
			return 2
		case i.Mode == ModeConcat:
			return 3
		}
		return 4
	}
	sort.Slice(out, func(a, b int) bool {
		ra, rb := rank(out[a]), rank(out[b])
		return ra < rb || ra == rb && out[a].Mode < out[b].Mode
	})
	return out
}

// ModeNames lists the registered modes' names in Methods order.
func ModeNames() []string {
	var names []string
	for _, info := range Methods() {
		names = append(names, string(info.Mode))
	}
	return names
}

// LookupMethod returns the registration of mode m.
func LookupMethod(m Mode) (MethodInfo, error) {
	info, ok := registry[m]
	if !ok {
		return info, fmt.Errorf("mode %q: use %s", m, orList(ModeNames()))
	}
	return info, nil
}

// MethodFlags lists the names of the flags of a method's configuration.
func MethodFlags(mc MethodConfig) []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	mc.Flags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// SetParam sets hyperparameter name of c's method to value, as the flag
// --name=value would.
func (c *Config) SetParam(name, value string) error {
	mc, err := c.methodConfig()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	mc.Flags(fs)
	if fs.Lookup(name) == nil {
		have := MethodFlags(mc)
		if len(have) == 0 {
			return fmt.Errorf("%s has no hyperparameters (%s given)", c.Mode, name)
		}
		return fmt.Errorf("%s has no hyperparameter %q (it has %s)", c.Mode, name, strings.Join(have, ", "))
	}
	if err := fs.Set(name, value); err != nil {
		return fmt.Errorf("%s: %s=%s: %w", c.Mode, name, value, err)
	}
	c.Method = mc
	return nil
}

// Graph is a method's view of the training graph while it is built.
type Graph struct {
	b *builder
	// Emb are the embeddings [B,E_m] of audio and video (nil when unused).
	Emb [2]*G.Node
	// Logits are the head's class logits [B,K].
	Logits *G.Node
	// OneHot are the true classes [B,K].
	OneHot *G.Node
	// Weight are the per-sample weights [B] of the batch mean: 1/n for the
	// n real rows, 0 for padding. The loss is Σ Weight ⊙ per-sample loss.
	Weight *G.Node
	// CE is the mean cross-entropy.
	CE *G.Node
}

// Classes is the number of classes.
func (g *Graph) Classes() int { return g.b.n.m.spec.classes }

// Batch is the graph's batch size (rows, padding included).
func (g *Graph) Batch() int { return g.b.n.batch }

// Scalar is a constant in the graph's dtype.
func (g *Graph) Scalar(v float64) *G.Node { return g.b.scalar(v) }

// Input is a tensor the method sets before every step (Step.Set).
func (g *Graph) Input(name string, shape ...int) *G.Node {
	n := g.b.n
	var in *G.Node
	if len(shape) == 0 {
		in = G.NewScalar(n.g, n.m.spec.dt, G.WithName(name))
	} else {
		in = G.NewTensor(n.g, n.m.spec.dt, len(shape), G.WithShape(shape...), G.WithName(name))
	}
	return in
}

// ClassGrads builds Σ_k w_k ∂f_k/∂e_m at the embeddings as graph ops for
// per-row class weights w [B,K] (one-hot classes: ∂f_c/∂e_m), for both
// modalities.
func (g *Graph) ClassGrads(w *G.Node) [2]*G.Node { return g.b.hp.classGrads(w, g.b.hz) }

// HeadAt builds the head, with the model's parameters, at other embeddings
// (e.g. the points of an integration path); hidden is what ClassGradsAt
// needs of that point.
func (g *Graph) HeadAt(emb [2]*G.Node) (logits, hidden *G.Node) { return g.b.hp.apply(emb) }

// ClassGradsAt is ClassGrads at a point HeadAt built.
func (g *Graph) ClassGradsAt(w, hidden *G.Node) [2]*G.Node { return g.b.hp.classGrads(w, hidden) }

// QuantityWeights builds the class weights w [B,K] of quantity q at logits
// for the one-hot classes cls: ∂q/∂e = Σ_k w_k ∂f_k/∂e (ClassGrads).
func (g *Graph) QuantityWeights(q attribution.Quantity, logits, cls *G.Node) *G.Node {
	return quantityWeights(g.b, q, logits, cls)
}

// Ones is a constant all-ones matrix [rows,cols] in the graph's dtype.
func (g *Graph) Ones(rows, cols int) *G.Node {
	n := g.b.n
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = 1
	}
	return G.NewConstant(n.dense(n.cast(v), tensor.Shape{rows, cols}), G.WithName(fmt.Sprintf("ones%dx%d", rows, cols)))
}

// ReLU is max(x, 0).
func (g *Graph) ReLU(x *G.Node) *G.Node { return must(op.ReLU(x)) }

// NLL is each row's negative log-likelihood of its true class under
// logits [B,K]: −log softmax(logits)[y], [B].
func (g *Graph) NLL(logits *G.Node) *G.Node { return nll(logits, g.OneHot) }

// Mean is the batch mean Σ Weight ⊙ x of per-row values x [B] over the
// real rows.
func (g *Graph) Mean(x *G.Node) *G.Node { return must(G.Sum(must(G.HadamardProd(g.Weight, x)))) }

// Replica builds encoder m again on the batch's input, with parameter
// nodes of its own over the same tensors, and returns its embeddings
// [B,E_m] and its index r. The loss's gradient through the replica is
// Step.ReplicaGrads[r], kept apart from the gradient through the primary
// encoder (Step.Grads); the trainer adds what AfterBackward leaves of it to
// Step.Grads, so a replica no hook looks at is plain weight sharing. (One
// graph has one gradient call; a replica is how a method gets the
// gradients of two losses w.r.t. one encoder separately.)
func (g *Graph) Replica(m int) (*G.Node, int) {
	n := g.b.n
	x := n.audio
	if m == 1 {
		x = n.frames
	}
	return g.b.replicate(m, x, n.batch), len(n.replicas) - 1
}

// ZeroReplica is Replica on an all-zero input of modality m (a zero
// spectrogram; frames that are zero after normalisation, i.e. of the
// ImageNet mean colour), computed for one clip and repeated for the B rows.
func (g *Graph) ZeroReplica(m int) (*G.Node, int) {
	b, s := g.b, g.b.n.m.spec
	shape := []int{1, 1, s.audioShape[0], s.audioShape[1]}
	if m == 1 {
		shape = []int{s.frameShape[0], 3, s.frameShape[1], s.frameShape[2]}
	}
	e := b.replicate(m, b.filled(fmt.Sprintf("zero.input%d", m), 0, shape...), 1)
	return must(G.Mul(g.Ones(g.Batch(), 1), e)), len(b.n.replicas) - 1
}

// Part is the head's modality-m part on e [B,E_m], as
// attribution.Head.Part computes it (concat e·W_m + b/2, sum e·W_m + b_m,
// mlp the head with the other embedding zero).
func (g *Graph) Part(m int, e *G.Node) *G.Node { return g.b.part(m, e) }

// StopGradient passes x through with no gradient back.
func (g *Graph) StopGradient(x *G.Node) *G.Node { return must(op.StopGradient(x)) }

// ArgmaxOneHot is the one-hot top class of each row of x, with no gradient.
func (g *Graph) ArgmaxOneHot(x *G.Node) *G.Node { return must(op.ArgmaxOneHot(x)) }

// ParamGroup says which part of the model a parameter belongs to.
type ParamGroup int

// Parameter groups.
const (
	GroupAudio ParamGroup = iota // audio encoder
	GroupVideo                   // video encoder
	GroupHead                    // fusion (or unimodal) head
)

// Step is one training step as a method sees it.
type Step struct {
	Epoch  int
	N      int      // real rows of the batch
	Labels []int    // [B]; rows ≥ N are padding
	IDs    []string // clip ids [B]
	// After the forward pass: the embeddings [B·E_m] (nil when unused), the
	// logits [B·K] and the head in float64 (a unimodal model's has no
	// dimensions for its unused modality).
	Emb    [2][]float64
	Logits []float64
	Head   attribution.Head
	// After the backward pass: one gradient per parameter, in Params order.
	Grads  [][]float32
	Params []ParamInfo
	// ReplicaGrads[r] is the gradient through replica r (Graph.Replica),
	// in Params order, nil for parameters outside the replica. After
	// AfterBackward the trainer adds every non-nil one to Grads; a method
	// that combines them itself sets them to nil.
	ReplicaGrads [][][]float32

	n *net
}

// ParamInfo describes a trainable tensor.
type ParamInfo struct {
	Name  string
	Group ParamGroup
	Shape []int
}

// Set binds an Input of the graph to v (row-major, in float64).
func (s *Step) Set(in *G.Node, v []float64) error {
	if len(in.Shape()) == 0 {
		if len(v) != 1 {
			return fmt.Errorf("input %s is a scalar, got %d values", in.Name(), len(v))
		}
		if s.n.m.spec.dt == tensor.Float32 {
			return G.Let(in, float32(v[0]))
		}
		return G.Let(in, v[0])
	}
	if in.Shape().TotalSize() != len(v) {
		return fmt.Errorf("input %s has shape %v, got %d values", in.Name(), in.Shape(), len(v))
	}
	return G.Let(in, s.n.dense(s.n.cast(v), in.Shape()))
}

// Dim is the embedding size of modality m.
func (s *Step) Dim(m int) int { return s.n.m.spec.embedDim(m) }

// Epoch is what an epoch hook sees.
type Epoch struct {
	Index     int // 0-based
	Epochs    int // of the run
	Seed      ingest.Seed
	TrainRows int // rows of the train split

	ctx context.Context
	t   *trainer
}

// newRand is a method's random generator, fixed by the run's seed and a
// stream number of the method's own.
func newRand(seed ingest.Seed, stream uint64) (*rand.PCG, *rand.Rand) {
	src := rand.NewPCG(uint64(seed), stream)
	return src, rand.New(src)
}

// ensureKnownParams is a guard for hand-made configs: a non-nil Method must
// be the mode's own configuration type.
func (c *Config) ensureKnownParams() error {
	if c.Method == nil {
		return nil
	}
	info, err := LookupMethod(c.Mode)
	if err != nil {
		return err
	}
	want := fmt.Sprintf("%T", info.NewConfig())
	if got := fmt.Sprintf("%T", c.Method); got != want {
		return fmt.Errorf("mode %s: method configuration is a %s, want %s (use Config.SetMode)", c.Mode, got, want)
	}
	return nil
}
