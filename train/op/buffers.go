package op

import (
	"gorgonia.org/tensor"
)

// scratch is a buffer an op keeps from run to run: its output, the
// im2col matrices of a chunk of samples, per-worker partial sums. The tape
// machine runs one op at a time and every op once per run, so one buffer
// per use and op is enough.
type scratch struct {
	f32 []float32
	f64 []float64
}

func scratchOf[T float32 | float64](s *scratch, n int) []T {
	var z T
	switch any(z).(type) {
	case float32:
		if cap(s.f32) < n {
			s.f32 = make([]float32, n)
		}
		return any(s.f32[:n]).([]T)
	default:
		if cap(s.f64) < n {
			s.f64 = make([]float64, n)
		}
		return any(s.f64[:n]).([]T)
	}
}

// output returns the op's output tensor of the given dtype and shape over
// the buffer s, reused from run to run: a training step then allocates no
// activations or gradients (measured: 0.38 GB per CREMA-D step before),
// which also keeps the heap, and so the peak RSS, at one step's values.
// Its contents are stale: the op must overwrite every element. This holds
// because a run's values are dead once the next run starts (the trainer
// copies what it keeps, e.g. through Float64s), and because each run gets
// a fresh tensor header, so an op that reshapes or transposes its input in
// place never changes the next run's output.
func output(s *scratch, dt tensor.Dtype, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	var data any
	if dt == tensor.Float64 {
		data = scratchOf[float64](s, n)
	} else {
		data = scratchOf[float32](s, n)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}
