// Package op holds the gorgonia operations the training graphs are built
// from where gorgonia's own are slow or missing: a 2-D convolution that is
// one BLAS gemm per sample with im2col/col2im split over the cores (Conv2D),
// a ReLU whose gradient is one masked pass (ReLU), and ops that pass no
// gradient back (StopGradient, StepMask, ArgmaxOneHot). Every op computes in
// float32 or float64, as its inputs are, and has exact first-order
// gradients, checked against finite differences and gorgonia's own ops.
//
// Every op embeds one base (name, hash key, the methods gorgonia asks of an
// op that are the same for all), and computes through plain kernel
// functions over slices; work is split over the cores by one function,
// blocks, in a way that depends only on the sizes and GOMAXPROCS, so results
// are deterministic.
//
// With the openblas build tag, gorgonia's matrix products and the
// convolutions' gemms go to OpenBLAS (single-threaded: the ops split the
// work over the cores themselves); without it, to gonum's pure-Go BLAS.
package op
