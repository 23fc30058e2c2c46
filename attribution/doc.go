// Package attribution measures how much each modality contributes to a fusion
// classifier's decision.
//
// A fusion head f maps per-modality embeddings e_m (m = 0 audio, 1 video) to
// class logits. For a class c the attribution of modality m is a vector over
// e_m: Grad×Input A_m = ∂f_c/∂e_m ⊙ e_m, or Integrated Gradients along the
// straight path from a baseline (zero or a mean embedding) to e_m. A vector is
// pooled to a scalar a_m (L2 norm by default, L1 optional) and the modality
// shares are s_m = a_m / Σ_k a_k.
//
// Heads are evaluated in plain Go in float64 (Head), which makes IG on the
// embeddings cheap and exact enough for reports; IntegratedGradients works on
// any differentiable function (GradFunc), and IntegratedGradientsBatch on one
// that evaluates several path points at once (BatchGradFunc), which the
// trainer uses for IG on the raw inputs through the whole network.
// WriteReport writes per-clip shares as CSV and a summary as JSON;
// ReadShares and ReadSummary read them back.
package attribution
