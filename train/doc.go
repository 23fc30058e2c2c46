// Package train trains audio-visual classifiers from feature shards: batches
// from memory-mapped shards, gorgonia models (a small CNN or ResNet-18 per
// modality, a fusion head), five training modes, metrics, checkpoints and
// attribution reports.
//
// Modes: "audio" and "video" train one branch with a linear head; "concat" is
// naive late fusion; "ogm-ge" modulates the dominant encoder's gradients
// (Peng et al., CVPR 2022); "attr-reg" adds λ·Σ_m |s_m − r_m| to the
// cross-entropy, where s_m are Grad×Input modality shares on the embeddings.
// For attr-reg, ∂f_c/∂e_m is built as graph ops of the head (linear: column c
// of W_m; MLP: W1_m·(relu′(z) ⊙ W2[:,c])), so one first-order gradient covers
// the cross-entropy and the penalty, and the penalty's gradient is exact.
//
// Layouts: audio batches are [B,1,F,T]; frames are folded into the batch as
// [B·N,3,H,W] float32 normalised with the ImageNet mean and std, and the video
// embedding is the mean over a clip's N frame embeddings.
//
// Unimodal probe accuracy of branch m inside a fusion model is the accuracy of
// the head's logits with the other modality's embedding set to zero (for the
// concat+linear head: e_m·W_m + b).
//
// A run directory holds config.json, metrics.jsonl (one JSON object per epoch
// and split), checkpoint.bin (last epoch), best.bin (best validation
// accuracy) and result.json (test metrics of best.bin).
//
// The encoders' convolutions and ReLUs are package op's (one BLAS gemm per
// sample, exact first-order gradients), not gorgonia's Conv2d and Rectify.
//
// Example:
//
//	cfg := train.DefaultConfig()
//	cfg.Shards, cfg.Out, cfg.Mode = "feat/", "runs/ar", train.ModeAttrReg
//	res, err := train.Run(ctx, cfg)
package train
