package attribution

import "math"

// Modalities is the number of modalities a fusion head combines: 0 audio, 1 video.
const Modalities = 2

// Head is a fusion head evaluated in float64. Embeddings are passed per
// modality; a nil or empty embedding is not allowed (use zeros).
type Head interface {
	// Classes is the number of logits.
	Classes() int
	// Dims gives the embedding size of each modality.
	Dims() [Modalities]int
	// Logits writes f(e) into dst (len Classes) and returns it.
	Logits(dst []float64, e [Modalities][]float64) []float64
	// ClassGrad writes ∂f_c/∂e_m for every modality into dst (len Dims()[m] each).
	ClassGrad(dst [Modalities][]float64, e [Modalities][]float64, c int)
	// WeightedGrad writes Σ_k w_k ∂f_k/∂e_m for every modality into dst.
	WeightedGrad(dst [Modalities][]float64, e [Modalities][]float64, w []float64)
	// Part writes modality m's own logits into dst: the per-modality part of
	// the head used by OGM-GE's discrepancy ratio (see each head's doc).
	Part(dst []float64, m int, e []float64) []float64
}

// Linear is the concat+linear head: f(e) = Σ_m e_m·W_m + B, i.e. one linear
// layer over [e_a; e_v]. W[m] has Dims()[m] rows of Classes values. Its Part
// is e_m·W_m + B/2, as in OGM-GE's reference code.
type Linear struct {
	W [Modalities][][]float64
	B []float64
}

// Classes implements Head.
func (h *Linear) Classes() int { return len(h.B) }

// Dims implements Head.
func (h *Linear) Dims() [Modalities]int { return [Modalities]int{len(h.W[0]), len(h.W[1])} }

// Logits implements Head.
func (h *Linear) Logits(dst []float64, e [Modalities][]float64) []float64 {
	dst = resize(dst, len(h.B))
	copy(dst, h.B)
	for m := range e {
		addVecMat(dst, e[m], h.W[m])
	}
	return dst
}

// ClassGrad implements Head: ∂f_c/∂e_m is column c of W_m.
func (h *Linear) ClassGrad(dst [Modalities][]float64, _ [Modalities][]float64, c int) {
	classColumns(dst, h.W, c)
}

// WeightedGrad implements Head: W_m·w.
func (h *Linear) WeightedGrad(dst [Modalities][]float64, _ [Modalities][]float64, w []float64) {
	matVecs(dst, h.W, w)
}

// Part implements Head.
func (h *Linear) Part(dst []float64, m int, e []float64) []float64 {
	dst = resize(dst, len(h.B))
	for k, b := range h.B {
		dst[k] = b / 2
	}
	addVecMat(dst, e, h.W[m])
	return dst
}

// Sum is the sum head: f(e) = Σ_m (e_m·W_m + B_m). Its Part is e_m·W_m + B_m.
type Sum struct {
	W [Modalities][][]float64
	B [Modalities][]float64
}

// Classes implements Head.
func (h *Sum) Classes() int { return len(h.B[0]) }

// Dims implements Head.
func (h *Sum) Dims() [Modalities]int { return [Modalities]int{len(h.W[0]), len(h.W[1])} }

// Logits implements Head.
func (h *Sum) Logits(dst []float64, e [Modalities][]float64) []float64 {
	dst = resize(dst, h.Classes())
	for k := range dst {
		dst[k] = 0
		for m := range h.B {
			dst[k] += h.B[m][k]
		}
	}
	for m := range e {
		addVecMat(dst, e[m], h.W[m])
	}
	return dst
}

// ClassGrad implements Head.
func (h *Sum) ClassGrad(dst [Modalities][]float64, _ [Modalities][]float64, c int) {
	classColumns(dst, h.W, c)
}

// WeightedGrad implements Head: W_m·w.
func (h *Sum) WeightedGrad(dst [Modalities][]float64, _ [Modalities][]float64, w []float64) {
	matVecs(dst, h.W, w)
}

// matVecs writes W_m·w into dst[m] for every modality.
func matVecs(dst [Modalities][]float64, wm [Modalities][][]float64, w []float64) {
	for m := range dst {
		for i, row := range wm[m] {
			s := 0.0
			for k, v := range row {
				s += v * w[k]
			}
			dst[m][i] = s
		}
	}
}

// classColumns copies column c of each modality's weight matrix into dst: the
// class gradient of any head that is linear in each embedding.
func classColumns(dst [Modalities][]float64, w [Modalities][][]float64, c int) {
	for m := range dst {
		for i, row := range w[m] {
			dst[m][i] = row[c]
		}
	}
}

// Part implements Head.
func (h *Sum) Part(dst []float64, m int, e []float64) []float64 {
	dst = resize(dst, h.Classes())
	copy(dst, h.B[m])
	addVecMat(dst, e, h.W[m])
	return dst
}

// MLP is the concat+MLP head: h = relu(Σ_m e_m·W1_m + B1), f = h·W2 + B2.
// Its Part is f with the other modality's embedding set to zero.
type MLP struct {
	W1 [Modalities][][]float64 // Dims()[m] rows of Hidden values
	B1 []float64               // Hidden
	W2 [][]float64             // Hidden rows of Classes values
	B2 []float64               // Classes
}

// Classes implements Head.
func (h *MLP) Classes() int { return len(h.B2) }

// Dims implements Head.
func (h *MLP) Dims() [Modalities]int { return [Modalities]int{len(h.W1[0]), len(h.W1[1])} }

func (h *MLP) hidden(e [Modalities][]float64) []float64 {
	z := append([]float64(nil), h.B1...)
	for m := range e {
		addVecMat(z, e[m], h.W1[m])
	}
	return z
}

// Logits implements Head.
func (h *MLP) Logits(dst []float64, e [Modalities][]float64) []float64 {
	z := h.hidden(e)
	for j := range z {
		z[j] = math.Max(z[j], 0)
	}
	dst = resize(dst, len(h.B2))
	copy(dst, h.B2)
	addVecMat(dst, z, h.W2)
	return dst
}

// ClassGrad implements Head: ∂f_c/∂e_m = W1_m·(relu′(z) ⊙ W2[:,c]).
func (h *MLP) ClassGrad(dst [Modalities][]float64, e [Modalities][]float64, c int) {
	z := h.hidden(e)
	for j := range z {
		if z[j] > 0 {
			z[j] = h.W2[j][c]
		} else {
			z[j] = 0
		}
	}
	h.backHidden(dst, z)
}

// WeightedGrad implements Head: W1_m·(relu′(z) ⊙ W2·w).
func (h *MLP) WeightedGrad(dst [Modalities][]float64, e [Modalities][]float64, w []float64) {
	z := h.hidden(e)
	for j := range z {
		if z[j] > 0 {
			s := 0.0
			for k, v := range h.W2[j] {
				s += v * w[k]
			}
			z[j] = s
		} else {
			z[j] = 0
		}
	}
	h.backHidden(dst, z)
}

// backHidden writes W1_m·u into dst[m] for a gradient u of the hidden layer.
func (h *MLP) backHidden(dst [Modalities][]float64, u []float64) {
	z := u
	for m := range dst {
		for i, row := range h.W1[m] {
			s := 0.0
			for j, w := range row {
				s += w * z[j]
			}
			dst[m][i] = s
		}
	}
}

// Part implements Head.
func (h *MLP) Part(dst []float64, m int, e []float64) []float64 {
	var in [Modalities][]float64
	for k := range in {
		if k == m {
			in[k] = e
		} else {
			in[k] = make([]float64, len(h.W1[k]))
		}
	}
	return h.Logits(dst, in)
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// addVecMat adds x·W to dst (W has len(x) rows of len(dst) values).
func addVecMat(dst, x []float64, w [][]float64) {
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		for k, wk := range w[i] {
			dst[k] += xi * wk
		}
	}
}
