package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// spec fixes a model's architecture and how its shares are measured.
type spec struct {
	mode           Mode
	uses           Modalities
	arch           Model
	head           Head
	embed, classes int
	audioShape     []int // [F,T]
	frameShape     []int // [N,H,W,3]
	dt             tensor.Dtype

	target    Target
	predicted bool
	quantity  attribution.Quantity
	norm      attribution.Norm
	method    AttrMethod
	baseline  Baseline
	steps     int
}

func (s *spec) useAudio() bool { return s.uses.Audio() }
func (s *spec) useVideo() bool { return s.uses.Video() }
func (s *spec) fusion() bool   { return s.uses == Both }

// igSteps is the number of Integrated Gradients steps the shares need: one
// when the attributed quantity is linear in the embeddings (the raw or
// centred logit of the concat or sum head), where the gradient is the same
// at every path point and one step is exact; else the configured steps.
func (s *spec) igSteps() int {
	linear := s.head == HeadConcat || s.head == HeadSum || !s.fusion()
	if linear && (s.quantity == attribution.Logit || s.quantity == attribution.Centered) {
		return 1
	}
	return s.steps
}

// embedDim is the embedding size of modality m.
func (s *spec) embedDim(int) int {
	if s.arch == ModelResNet18 {
		return 512
	}
	return s.embed
}

func specFromConfig(c *Config, uses Modalities, classes int, audioShape, frameShape []int) spec {
	return spec{mode: c.Mode, uses: uses, arch: c.Model, head: c.Head, embed: c.Embed, classes: classes,
		audioShape: audioShape, frameShape: frameShape, dt: tensor.Float32,
		target: c.Target, predicted: c.AttrClass == ClassPredicted, quantity: c.AttrQuantity, norm: c.AttrNorm,
		method: c.AttrMethod, baseline: c.AttrBaseline, steps: c.AttrSteps}
}

// param is one trainable tensor; its value is shared by every graph built
// for the model, so optimizer updates are seen by all of them.
type param struct {
	name  string
	group ParamGroup
	t     *tensor.Dense
}

// model owns the parameters; graphs (net) are built over them.
type model struct {
	spec   spec
	params []*param
	byName map[string]*param
	rng    *rand.Rand // initialisation only
	// bn holds the running statistics of the training graph's batch norms.
	bn map[string]*G.BatchNormOp
}

func newModel(s spec, seed ingest.Seed) *model {
	return &model{spec: s, byName: map[string]*param{}, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		bn: map[string]*G.BatchNormOp{}}
}

// net is one compiled graph over the model.
type net struct {
	m      *model
	g      *G.ExprGraph
	vm     G.VM
	batch  int
	train  bool
	audio  *G.Node // [B,1,F,T]
	frames *G.Node // [B·N,3,H,W]
	onehot *G.Node // [B,K] true classes
	weight *G.Node // [B] per-sample loss weights (sum 1, 0 for padding)

	emb    [2]*G.Node // [B,E] each; nil when the modality is unused
	logits *G.Node
	ce     *G.Node
	loss   *G.Node

	nodes        []*G.Node // parameter nodes, in order of params
	used         []*param
	grads        G.Nodes  // gradient of loss w.r.t. gradParams
	gradParams   []*param // used, or those netOptions.wrt picks
	bnOps        map[string]*G.BatchNormOp
	replicas     []*replica // encoder replicas a method built (Graph.Replica)
	inputGrads   bool       // the first convolutions pass gradients to audio and frames
	noParamGrads bool       // convolutions pass no gradients to their filters and biases
}

// builder creates parameter nodes and layers on one graph.
type builder struct {
	n   *net
	hp  *headParams // the head's parameters
	hz  *G.Node     // the head's hidden pre-activation at the embeddings (MLP)
	rep *replica    // the replica being built, which gets parameter nodes of its own
}

// replica is a second copy of an encoder in a training graph: parameter
// nodes of its own (named name#r) over the model's tensors, so the loss's
// gradient through it is kept apart from the gradient through the primary.
type replica struct {
	index  int
	input  *G.Node // its raw input, which gets no gradient
	nodes  []*G.Node
	params []*param
	at     []int   // each param's index in the graph's used parameters
	grads  G.Nodes // after Grad: one per node
}

func (b *builder) param(name string, group ParamGroup, shape []int, init func(data []float64)) *G.Node {
	m := b.n.m
	if r := b.rep; r != nil {
		p, ok := m.byName[name]
		if !ok {
			panic("train: replica of " + name + " before its encoder")
		}
		node := G.NewTensor(b.n.g, m.spec.dt, len(shape), G.WithShape(shape...),
			G.WithName(fmt.Sprintf("%s#%d", name, r.index+1)), G.WithValue(p.t))
		r.nodes = append(r.nodes, node)
		r.params = append(r.params, p)
		return node
	}
	p, ok := m.byName[name]
	if !ok {
		vals := make([]float64, prod(shape))
		init(vals)
		t := tensor.New(tensor.Of(m.spec.dt), tensor.WithShape(shape...))
		switch d := t.Data().(type) {
		case []float32:
			for i, v := range vals {
				d[i] = float32(v)
			}
		case []float64:
			copy(d, vals)
		}
		p = &param{name: name, group: group, t: t}
		m.params = append(m.params, p)
		m.byName[name] = p
	}
	node := G.NewTensor(b.n.g, m.spec.dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(p.t))
	b.n.nodes = append(b.n.nodes, node)
	b.n.used = append(b.n.used, p)
	return node
}

func (b *builder) normal(std float64) func([]float64) {
	return func(d []float64) {
		for i := range d {
			d[i] = b.n.m.rng.NormFloat64() * std
		}
	}
}

func (b *builder) uniform(bound float64) func([]float64) {
	return func(d []float64) {
		for i := range d {
			d[i] = (2*b.n.m.rng.Float64() - 1) * bound
		}
	}
}

func constant(v float64) func([]float64) {
	return func(d []float64) {
		for i := range d {
			d[i] = v
		}
	}
}

func (b *builder) scalar(v float64) *G.Node {
	if b.n.m.spec.dt == tensor.Float32 {
		return G.NewConstant(float32(v))
	}
	return G.NewConstant(v)
}

// conv is a k×k convolution (He-normal init) with an optional bias and ReLU.
func (b *builder) conv(name string, group ParamGroup, x *G.Node, cout, k, stride, pad int, bias, relu bool) *G.Node {
	cin := x.Shape()[1]
	w := b.param(name+".w", group, []int{cout, cin, k, k}, b.normal(math.Sqrt(2/float64(cin*k*k))))
	var bv *G.Node
	if bias {
		bv = b.param(name+".b", group, []int{cout}, constant(0))
	}
	// The raw inputs get a gradient only when asked for (IG).
	gradX := b.n.inputGrads || x != b.n.audio && x != b.n.frames && (b.rep == nil || x != b.rep.input)
	return must(op.Conv2D(x, w, bv, op.Square(k, stride, pad), op.ConvOptions{ReLU: relu, Input: gradX, NoParams: b.n.noParamGrads}))
}

func (b *builder) batchNorm(name string, group ParamGroup, x *G.Node) *G.Node {
	c := x.Shape()[1]
	scale := b.param(name+".gamma", group, []int{1, c, 1, 1}, constant(1))
	shift := b.param(name+".beta", group, []int{1, c, 1, 1}, constant(0))
	y, _, _, bn, err := G.BatchNorm(x, scale, shift, 0.1, 1e-5)
	if err != nil {
		panic(err)
	}
	if b.rep != nil {
		return y // normalises with batch statistics; its running statistics are its own and unused
	}
	// The first graph built owns the running statistics (the training graph
	// when training); later graphs copy them before use (syncBN).
	if _, ok := b.n.m.bn[name]; !ok {
		b.n.m.bn[name] = bn
	}
	if !b.n.train {
		bn.SetTraining(false)
	}
	b.n.bnOps[name] = bn
	return y
}

// globalAvgPool is the mean over H and W (GlobalAveragePool2D has no gradient).
func globalAvgPool(x *G.Node) *G.Node { return must(op.GlobalAvgPool(x)) }

// smallEncoder: four 3×3 stride-2 convolutions (16, 32, 64, embed channels)
// with bias and ReLU, then global average pooling.
func (b *builder) smallEncoder(prefix string, group ParamGroup, x *G.Node) *G.Node {
	chans := []int{16, 32, 64, b.n.m.spec.embed}
	for i, c := range chans {
		x = b.conv(fmt.Sprintf("%s.conv%d", prefix, i), group, x, c, 3, 2, 1, true, true)
	}
	return globalAvgPool(x)
}

// resnet18 is torchvision's ResNet-18 trunk (7×7/2 stem, 3×3/2 max-pool,
// 2+2+2+2 basic blocks of 64–512 channels) with global average pooling.
func (b *builder) resnet18(prefix string, group ParamGroup, x *G.Node) *G.Node {
	x = b.conv(prefix+".stem", group, x, 64, 7, 2, 3, false, false)
	x = must(op.ReLU(b.batchNorm(prefix+".stem.bn", group, x)))
	x = must(G.MaxPool2D(x, tensor.Shape{3, 3}, []int{1, 1}, []int{2, 2}))
	for li, c := range []int{64, 128, 256, 512} {
		for bi := 0; bi < 2; bi++ {
			stride := 1
			if li > 0 && bi == 0 {
				stride = 2
			}
			name := fmt.Sprintf("%s.layer%d.%d", prefix, li+1, bi)
			y := b.conv(name+".conv1", group, x, c, 3, stride, 1, false, false)
			y = must(op.ReLU(b.batchNorm(name+".bn1", group, y)))
			y = b.conv(name+".conv2", group, y, c, 3, 1, 1, false, false)
			y = b.batchNorm(name+".bn2", group, y)
			short := x
			if stride != 1 || x.Shape()[1] != c {
				short = b.conv(name+".down", group, x, c, 1, stride, 0, false, false)
				short = b.batchNorm(name+".down.bn", group, short)
			}
			x = must(op.ReLU(must(G.Add(y, short))))
		}
	}
	return globalAvgPool(x)
}

func (b *builder) encoder(prefix string, group ParamGroup, x *G.Node) *G.Node {
	if b.n.m.spec.arch == ModelResNet18 {
		return b.resnet18(prefix, group, x)
	}
	return b.smallEncoder(prefix, group, x)
}

// linear is x·W for a new weight W [in,out]; it returns the product and W.
// weight creates a head weight [in,out] (uniform ±1/√in).
func (b *builder) weight(name string, in, out int) *G.Node {
	return b.param(name+".w", GroupHead, []int{in, out}, b.uniform(1/math.Sqrt(float64(in))))
}

// biasParam creates a head bias [k] (uniform ±bound).
func (b *builder) biasParam(name string, k int, bound float64) *G.Node {
	return b.param(name, GroupHead, []int{k}, b.uniform(bound))
}

func addBias(x, bv *G.Node) *G.Node { return must(G.BroadcastAdd(x, bv, nil, []byte{0})) }

// headParams are the head's parameter nodes; apply builds the head on any
// pair of embeddings with them, so the head can be evaluated at several
// points of one graph (Integrated Gradients in the loss).
type headParams struct {
	kind   Head
	fusion bool
	w      [2]*G.Node // concat/sum: per-modality weights [E_m,K]; mlp: fc1 weights [E_m,H]; unimodal: w[0] [E,K]
	b      [2]*G.Node // concat, unimodal, mlp (fc1): b[0]; sum: one per modality
	w2, b2 *G.Node    // mlp: fc2 weights [H,K] and bias [K]
}

// newHead creates the parameters of the head over embeddings of the given
// sizes (dims[m] 0 for an unused modality), in a fixed order.
func (b *builder) newHead(dims [2]int) *headParams {
	s := b.n.m.spec
	k := s.classes
	h := &headParams{kind: s.head, fusion: s.fusion()}
	if !h.fusion {
		d := max(dims[0], dims[1])
		h.w[0] = b.weight("head", d, k)
		h.b[0] = b.biasParam("head.b", k, 1/math.Sqrt(float64(d)))
		return h
	}
	fanIn := 1 / math.Sqrt(float64(dims[0]+dims[1]))
	names := [2]string{"head.audio", "head.video"}
	switch s.head {
	case HeadMLP:
		for m := range h.w {
			h.w[m] = b.weight(names[m]+".fc1", dims[m], s.embed)
		}
		h.b[0] = b.biasParam("head.fc1.b", s.embed, fanIn)
		h.w2 = b.weight("head.fc2", s.embed, k)
		h.b2 = b.biasParam("head.fc2.b", k, 1/math.Sqrt(float64(s.embed)))
	case HeadSum:
		for m := range h.w {
			h.w[m] = b.weight(names[m], dims[m], k)
			h.b[m] = b.biasParam(names[m]+".b", k, 1/math.Sqrt(float64(dims[m])))
		}
	default:
		for m := range h.w {
			h.w[m] = b.weight(names[m], dims[m], k)
		}
		h.b[0] = b.biasParam("head.b", k, fanIn)
	}
	return h
}

// apply builds the logits [B,K] of the head at emb; z is the MLP's hidden
// pre-activation [B,H] (nil for the linear heads).
func (h *headParams) apply(emb [2]*G.Node) (logits, z *G.Node) {
	if !h.fusion {
		e := emb[0]
		if e == nil {
			e = emb[1]
		}
		return addBias(must(G.Mul(e, h.w[0])), h.b[0]), nil
	}
	switch h.kind {
	case HeadMLP:
		z = must(G.Add(must(G.Mul(emb[0], h.w[0])), must(G.Mul(emb[1], h.w[1]))))
		z = addBias(z, h.b[0])
		return addBias(must(G.Mul(must(G.Rectify(z)), h.w2)), h.b2), z
	case HeadSum:
		var parts [2]*G.Node
		for m := range parts {
			parts[m] = addBias(must(G.Mul(emb[m], h.w[m])), h.b[m])
		}
		return must(G.Add(parts[0], parts[1])), nil
	default:
		return addBias(must(G.Add(must(G.Mul(emb[0], h.w[0])), must(G.Mul(emb[1], h.w[1])))), h.b[0]), nil
	}
}

// head creates the head's parameters and builds its logits at emb; b keeps
// the parameters and the hidden pre-activation for classGrads.
func (b *builder) head(emb [2]*G.Node) *G.Node {
	var dims [2]int
	for m, e := range emb {
		if e != nil {
			dims[m] = e.Shape()[1]
		}
	}
	b.hp = b.newHead(dims)
	logits, z := b.hp.apply(emb)
	b.hz = z
	return logits
}

// part is the head's modality-m part on e [rows,E_m], as attribution's
// Head.Part: concat e·W_m + b/2, sum e·W_m + b_m, mlp the head with the
// other modality's embedding zero.
func (b *builder) part(m int, e *G.Node) *G.Node {
	h, s := b.hp, b.n.m.spec
	switch h.kind {
	case HeadMLP:
		var in [2]*G.Node
		in[m] = e
		rows := e.Shape()[0]
		in[1-m] = b.filled(fmt.Sprintf("zero.emb%d.%d", 1-m, rows), 0, rows, s.embedDim(1-m))
		logits, _ := h.apply(in)
		return logits
	case HeadSum:
		return addBias(must(G.Mul(e, h.w[m])), h.b[m])
	default:
		return addBias(must(G.Mul(e, h.w[m])), must(G.Mul(h.b[0], b.scalar(0.5))))
	}
}

// classGrads builds ∂q/∂e_m = Σ_k w_k ∂f_k/∂e_m as graph ops for per-row
// class weights w [B,K] (one-hot classes for the raw logit) at the head's
// hidden pre-activation z (the MLP's; nil for linear heads): linear heads
// give w·W_mᵀ, the MLP ((relu′(z) ⊙ w·W2ᵀ)·W1_mᵀ).
func (h *headParams) classGrads(w, z *G.Node) (grads [2]*G.Node) {
	if h.w2 == nil {
		for m := range grads {
			grads[m] = must(G.Mul(w, must(G.Transpose(h.w[m]))))
		}
		return grads
	}
	mask := must(op.StepMask(z))
	u := must(G.HadamardProd(mask, must(G.Mul(w, must(G.Transpose(h.w2))))))
	for m := range grads {
		grads[m] = must(G.Mul(u, must(G.Transpose(h.w[m]))))
	}
	return grads
}

// encoders creates the input nodes and the embeddings of the modalities
// the model uses.
func (b *builder) encoders() {
	n, s, batch := b.n, b.n.m.spec, b.n.batch
	if s.useAudio() {
		n.audio = G.NewTensor(n.g, s.dt, 4, G.WithShape(batch, 1, s.audioShape[0], s.audioShape[1]), G.WithName("audio"))
		n.emb[0] = b.embed(0, n.audio, batch)
	}
	if s.useVideo() {
		nf, h, w := s.frameShape[0], s.frameShape[1], s.frameShape[2]
		n.frames = G.NewTensor(n.g, s.dt, 4, G.WithShape(batch*nf, 3, h, w), G.WithName("frames"))
		n.emb[1] = b.embed(1, n.frames, batch)
	}
}

// embed is encoder m over x, audio [rows,1,F,T] or frames [rows·N,3,H,W]:
// the embeddings [rows,E_m], a clip's video embedding the mean of its frames'.
func (b *builder) embed(m int, x *G.Node, rows int) *G.Node {
	if m == 0 {
		return b.encoder("audio", GroupAudio, x)
	}
	e := b.encoder("video", GroupVideo, x)
	if nf := b.n.m.spec.frameShape[0]; nf > 1 {
		e = must(op.GroupMean(e, nf))
	}
	return e
}

// replicate builds encoder m again over x (rows clips) with parameter nodes
// of its own over the model's tensors and returns its embeddings.
func (b *builder) replicate(m int, x *G.Node, rows int) *G.Node {
	b.rep = &replica{index: len(b.n.replicas), input: x}
	defer func() { b.rep = nil }()
	e := b.embed(m, x, rows)
	b.n.replicas = append(b.n.replicas, b.rep)
	return e
}

// filled is a new input node of the given shape with every value v.
func (b *builder) filled(name string, v float64, shape ...int) *G.Node {
	n := b.n
	vals := make([]float64, prod(shape))
	for i := range vals {
		vals[i] = v
	}
	t := n.dense(n.cast(vals), shape)
	return G.NewTensor(n.g, n.m.spec.dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}

// netOptions are buildNet's options for tests.
type netOptions struct {
	// termOnly makes the training loss the method's term alone, and wrt
	// picks the parameters to differentiate it with respect to.
	termOnly bool
	wrt      func(*param) bool
}

// buildNet compiles a graph for batch size batch. A training graph (meth
// not nil) computes the loss, mean cross-entropy plus the method's term, and
// its gradient w.r.t. every parameter in one Grad call.
func buildNet(m *model, batch int, meth Method, opts netOptions) (n *net, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: building the %s/%s graph: %v", m.spec.arch, m.spec.mode, r)
		}
	}()
	s := m.spec
	n = &net{m: m, g: G.NewGraph(), batch: batch, train: meth != nil, bnOps: map[string]*G.BatchNormOp{}}
	b := &builder{n: n}
	b.encoders()
	n.onehot = G.NewMatrix(n.g, s.dt, G.WithShape(batch, s.classes), G.WithName("onehot"))
	n.logits = b.head(n.emb)
	if meth == nil {
		return n, n.compile()
	}
	n.weight = G.NewVector(n.g, s.dt, G.WithShape(batch), G.WithName("weight"))
	n.ce = must(G.Sum(must(G.HadamardProd(n.weight, nll(n.logits, n.onehot)))))
	n.loss = n.ce
	term, err := meth.Loss(&Graph{b: b, Emb: n.emb, Logits: n.logits, OneHot: n.onehot, Weight: n.weight, CE: n.ce})
	if err != nil {
		return nil, err
	}
	if term != nil {
		n.loss = must(G.Add(n.ce, term))
		if opts.termOnly {
			n.loss = term
		}
	}
	wrt := n.nodes
	n.gradParams = n.used
	if opts.wrt != nil {
		wrt, n.gradParams = nil, nil
		for i, p := range n.used {
			if opts.wrt(p) {
				wrt = append(wrt, n.nodes[i])
				n.gradParams = append(n.gradParams, p)
			}
		}
	}
	at := map[*param]int{}
	for i, p := range n.used {
		at[p] = i
	}
	for _, r := range n.replicas {
		wrt = append(wrt, r.nodes...)
		for _, p := range r.params {
			r.at = append(r.at, at[p])
		}
	}
	grads, err := G.Grad(n.loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("train: gradient of the %s loss: %w", s.mode, err)
	}
	n.grads, grads = grads[:len(n.gradParams)], grads[len(n.gradParams):]
	for _, r := range n.replicas {
		r.grads, grads = grads[:len(r.nodes)], grads[len(r.nodes):]
	}
	return n, n.compile()
}

func (n *net) compile() error {
	// NewTapeMachine calls SetTraining(!evalMode) on every batch norm, and
	// SetTraining(true) resets the running statistics: without EvalMode an
	// evaluation graph would normalise with batch statistics.
	if n.train {
		n.vm = G.NewTapeMachine(n.g)
	} else {
		n.vm = G.NewTapeMachine(n.g, G.EvalMode())
	}
	return nil
}

// nll is each row's negative log-likelihood −log softmax(logits)[y] of
// the one-hot classes onehot: logits [B,K] → [B].
func nll(logits, onehot *G.Node) *G.Node {
	lsm := must(op.LogSoftMax(logits))
	return must(G.Neg(must(G.Sum(must(G.HadamardProd(onehot, lsm)), 1))))
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}
