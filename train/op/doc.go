// Package op holds the gorgonia operations the training graphs are built
// from where gorgonia's own are slow or missing: a 2-D convolution with
// its bias and ReLU fused in, one BLAS gemm per group of samples with
// im2col/col2im split over the cores (Conv2D), a ReLU whose gradient is
// one masked pass (ReLU), and ops that pass no gradient back
// (StopGradient, StepMask, ArgmaxOneHot). Every op computes in float32 or
// float64, as its inputs are, and has exact first-order gradients,
// checked against finite differences and gorgonia's own ops.
//
// Every op embeds one base (name, hash key, the methods gorgonia asks of an
// op that are the same for all), keeps its output and work buffers from
// run to run (a training step allocates no activations), and computes
// through kernel functions over slices: the element-wise and copy loops
// in C (kernels.c, vectorized by the C compiler), the matrix products in
// BLAS. Work is split over the cores by one function, Blocks, in a way that
// depends only on the sizes and GOMAXPROCS, so results are deterministic.
//
// gorgonia's matrix products and the convolutions' gemms go to OpenBLAS
// (single-threaded: the ops split the work over the cores themselves),
// found through pkg-config; build with the noopenblas tag for gonum's
// pure-Go BLAS (about 4× slower).
package op
