package train

import (
	"github.com/avbalance/avbalance/attribution"
	"github.com/avbalance/avbalance/train/op"
	G "gorgonia.org/gorgonia"
)

// quantityWeights builds, for the classes cls (one-hot rows [B,K]), the
// weights w [B,K] with ∂q/∂f_k = w_k of quantity q at logits [B,K], so that
// ∂q/∂e = Σ_k w_k ∂f_k/∂e (headParams.classGrads). They are graph ops, so a
// penalty built on them has its exact gradient, through the softmax of
// LogProb too; Margin's runner-up is a selection and passes no gradient.
func quantityWeights(b *builder, q attribution.Quantity, logits, cls *G.Node) *G.Node {
	switch q {
	case attribution.LogProb:
		return must(G.Sub(cls, must(op.SoftMax(logits))))
	case attribution.Centered:
		return must(G.Sub(cls, b.scalar(1/float64(b.n.m.spec.classes))))
	case attribution.Margin:
		return must(G.Sub(cls, runnerUp(b, logits, cls)))
	}
	return cls
}

// runnerUp is the one-hot of each row's largest logit other than cls's.
func runnerUp(b *builder, logits, cls *G.Node) *G.Node {
	masked := must(G.Sub(logits, must(G.Mul(b.scalar(1e9), cls))))
	return must(op.ArgmaxOneHot(masked))
}

// quantityValue builds q(f, c) per row [B] at logits [B,K] for the classes
// cls (one-hot rows).
func quantityValue(b *builder, q attribution.Quantity, logits, cls *G.Node) *G.Node {
	f := logits
	if q == attribution.LogProb {
		f = must(op.LogSoftMax(logits))
	}
	w := cls
	switch q {
	case attribution.Centered:
		w = quantityWeights(b, q, logits, cls)
	case attribution.Margin:
		w = must(G.Sub(cls, runnerUp(b, logits, cls)))
	}
	return must(G.Sum(must(G.HadamardProd(w, f)), 1))
}
