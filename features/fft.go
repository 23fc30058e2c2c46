package features

import "math"

// fftPlan is a precomputed forward complex FFT of one length n: a self-sorting (Stockham)
// mixed-radix transform in radices 4, 2, 3 and 5, with a direct paired-sum butterfly (see
// generic) for any other prime factor p. Its twiddles are computed once, each directly by
// math.Sincos, and it owns its scratch, so a transform allocates nothing. A plan is not safe
// for concurrent use.
type fftPlan struct {
	n       int
	stages  []fftStage
	scratch []complex128 // the ping-pong partner of the caller's buffer
	tmp     []complex128 // generic-radix butterfly sums and differences
}

// fftStage is one radix-r pass of the Stockham decimation-in-frequency recursion: the
// current sub-transforms have length r·m and are interleaved with stride s (the product of
// the earlier radices). Butterfly (p, q), p < m, q < s, reads x[q+s(p+jm)], j < r, and writes
// y[q+s(rp+k)], k < r, multiplied by the twiddle w^{pk}, w = exp(-2πi/(r·m)).
type fftStage struct {
	r, s, m int
	tw      []complex128 // tw[(r-1)p+k-1] = w^{pk}, 1 ≤ k < r
	roots   []complex128 // generic radix: exp(-2πij/r), j < r
}

// fftFactors splits n into the radices of its passes: fours (fewer passes and twiddle
// multiplications than twos), at most one two, then threes, fives and any other primes in
// increasing order, so the last pass, which needs no twiddles, is the largest odd radix.
// (An 8-point pass was tried and measured no faster: Go spills its 16 live values.)
func fftFactors(n int) []int {
	var f []int
	for n%4 == 0 {
		f = append(f, 4)
		n /= 4
	}
	if n%2 == 0 {
		f = append(f, 2)
		n /= 2
	}
	for p := 3; n > 1; p += 2 {
		if p*p > n {
			p = n
		}
		for n%p == 0 {
			f = append(f, p)
			n /= p
		}
	}
	return f
}

func newFFTPlan(n int) *fftPlan { return newFFTPlanRadices(n, fftFactors(n)) }

// newFFTPlanRadices plans the passes in the order given (tests use it to run each kernel in
// other positions): each radix is 2, 4 or odd, and their product is n.
func newFFTPlanRadices(n int, radices []int) *fftPlan {
	pl := &fftPlan{n: n, scratch: make([]complex128, n)}
	s := 1
	maxR := 0
	for _, r := range radices {
		cur := n / s // length of the current sub-transforms
		m := cur / r
		st := fftStage{r: r, s: s, m: m, tw: make([]complex128, (r-1)*m)}
		for p := 0; p < m; p++ {
			for k := 1; k < r; k++ {
				st.tw[(r-1)*p+k-1] = expNeg(p*k, cur)
			}
		}
		if r != 2 && r != 3 && r != 4 && r != 5 {
			st.roots = make([]complex128, r)
			for j := range st.roots {
				st.roots[j] = expNeg(j, r)
			}
			maxR = max(maxR, r)
		}
		pl.stages = append(pl.stages, st)
		s *= r
	}
	pl.tmp = make([]complex128, maxR)
	return pl
}

// expNeg is exp(-2πi·k/n), exact where k/n is a multiple of 1/4.
func expNeg(k, n int) complex128 {
	k %= n
	if 4*k%n == 0 {
		return [4]complex128{1, -1i, -1, 1i}[4*k/n]
	}
	s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
	return complex(c, s)
}

// transform computes the DFT of x (len n) in place of x and the plan's scratch and returns
// the slice that holds the result: x itself or the scratch, which the next call overwrites.
func (pl *fftPlan) transform(x []complex128) []complex128 {
	x = x[:pl.n]
	y := pl.scratch
	for i := range pl.stages {
		st := &pl.stages[i]
		switch st.r {
		case 4:
			st.radix4(x, y)
		case 2:
			st.radix2(x, y)
		case 3:
			st.radix3(x, y)
		case 5:
			st.radix5(x, y)
		default:
			st.generic(x, y, pl.tmp[:st.r])
		}
		x, y = y, x
	}
	return x
}

func (st *fftStage) radix2(x, y []complex128) {
	s, m := st.s, st.m
	if s == 1 {
		x0, x1 := x[:m], x[m:2*m]
		tw := st.tw[:m]
		y = y[:2*m]
		for p := range x0 {
			a, b := x0[p], x1[p]
			y[2*p] = a + b
			y[2*p+1] = (a - b) * tw[p]
		}
		return
	}
	for p := 0; p < m; p++ {
		w := st.tw[p]
		x0 := x[s*p : s*p+s]
		x1 := x[s*(p+m) : s*(p+m)+s]
		y0 := y[2*s*p : 2*s*p+s]
		y1 := y[2*s*p+s : 2*s*p+2*s]
		x1, y0, y1 = x1[:len(x0)], y0[:len(x0)], y1[:len(x0)]
		if p == 0 {
			for q, a := range x0 {
				b := x1[q]
				y0[q] = a + b
				y1[q] = a - b
			}
			continue
		}
		for q, a := range x0 {
			b := x1[q]
			y0[q] = a + b
			y1[q] = (a - b) * w
		}
	}
}

// scale is c·z: Go multiplies a complex128 by complex(c, 0) in full (x·0 is not folded).
func scale(z complex128, c float64) complex128 { return complex(c*real(z), c*imag(z)) }

// negI is -i·z.
func negI(z complex128) complex128 { return complex(imag(z), -real(z)) }

func (st *fftStage) radix4(x, y []complex128) {
	s, m := st.s, st.m
	if s == 1 {
		x0, x1, x2, x3 := x[:m], x[m:2*m], x[2*m:3*m], x[3*m:4*m]
		x1, x2, x3 = x1[:len(x0)], x2[:len(x0)], x3[:len(x0)]
		tw := st.tw[:3*m]
		y = y[:4*m]
		for p, a0 := range x0 {
			a1, a2, a3 := x1[p], x2[p], x3[p]
			t0, t1 := a0+a2, a0-a2
			t2, t3 := a1+a3, negI(a1-a3)
			w := tw[3*p : 3*p+3 : 3*p+3]
			z := y[4*p : 4*p+4 : 4*p+4]
			z[0] = t0 + t2
			z[1] = (t1 + t3) * w[0]
			z[2] = (t0 - t2) * w[1]
			z[3] = (t1 - t3) * w[2]
		}
		return
	}
	for p := 0; p < m; p++ {
		x0 := x[s*p : s*p+s]
		x1 := x[s*(p+m) : s*(p+m)+s]
		x2 := x[s*(p+2*m) : s*(p+2*m)+s]
		x3 := x[s*(p+3*m) : s*(p+3*m)+s]
		o := 4 * s * p
		y0 := y[o : o+s]
		y1 := y[o+s : o+2*s]
		y2 := y[o+2*s : o+3*s]
		y3 := y[o+3*s : o+4*s]
		n := len(x0)
		x1, x2, x3, y0, y1, y2, y3 = x1[:n], x2[:n], x3[:n], y0[:n], y1[:n], y2[:n], y3[:n]
		if p == 0 {
			for q, a0 := range x0 {
				a1, a2, a3 := x1[q], x2[q], x3[q]
				t0, t1 := a0+a2, a0-a2
				t2, t3 := a1+a3, negI(a1-a3)
				y0[q] = t0 + t2
				y1[q] = t1 + t3
				y2[q] = t0 - t2
				y3[q] = t1 - t3
			}
			continue
		}
		w1, w2, w3 := st.tw[3*p], st.tw[3*p+1], st.tw[3*p+2]
		for q, a0 := range x0 {
			a1, a2, a3 := x1[q], x2[q], x3[q]
			t0, t1 := a0+a2, a0-a2
			t2, t3 := a1+a3, negI(a1-a3)
			y0[q] = t0 + t2
			y1[q] = (t1 + t3) * w1
			y2[q] = (t0 - t2) * w2
			y3[q] = (t1 - t3) * w3
		}
	}
}

func (st *fftStage) radix3(x, y []complex128) {
	const h = 0.86602540378443864676 // sin(π/3)
	s, m := st.s, st.m
	for p := 0; p < m; p++ {
		x0 := x[s*p : s*p+s]
		x1 := x[s*(p+m) : s*(p+m)+s]
		x2 := x[s*(p+2*m) : s*(p+2*m)+s]
		o := 3 * s * p
		y0 := y[o : o+s]
		y1 := y[o+s : o+2*s]
		y2 := y[o+2*s : o+3*s]
		n := len(x0)
		x1, x2, y0, y1, y2 = x1[:n], x2[:n], y0[:n], y1[:n], y2[:n]
		if p == 0 {
			for q, a0 := range x0 {
				a1, a2 := x1[q], x2[q]
				t1 := a1 + a2
				t2 := a0 - scale(t1, 0.5)
				d := a1 - a2
				t3 := complex(h*imag(d), -h*real(d))
				y0[q] = a0 + t1
				y1[q] = t2 + t3
				y2[q] = t2 - t3
			}
			continue
		}
		w1, w2 := st.tw[2*p], st.tw[2*p+1]
		for q, a0 := range x0 {
			a1, a2 := x1[q], x2[q]
			t1 := a1 + a2
			t2 := a0 - scale(t1, 0.5)
			d := a1 - a2
			t3 := complex(h*imag(d), -h*real(d)) // -i·sin(π/3)·(a1-a2)
			y0[q] = a0 + t1
			y1[q] = (t2 + t3) * w1
			y2[q] = (t2 - t3) * w2
		}
	}
}

func (st *fftStage) radix5(x, y []complex128) {
	const (
		c1 = 0.30901699437494742410  // cos(2π/5)
		c2 = -0.80901699437494742410 // cos(4π/5)
		s1 = 0.95105651629515357212  // sin(2π/5)
		s2 = 0.58778525229247312917  // sin(4π/5)
	)
	s, m := st.s, st.m
	for p := 0; p < m; p++ {
		x0 := x[s*p : s*p+s]
		x1 := x[s*(p+m) : s*(p+m)+s]
		x2 := x[s*(p+2*m) : s*(p+2*m)+s]
		x3 := x[s*(p+3*m) : s*(p+3*m)+s]
		x4 := x[s*(p+4*m) : s*(p+4*m)+s]
		o := 5 * s * p
		y0 := y[o : o+s]
		y1 := y[o+s : o+2*s]
		y2 := y[o+2*s : o+3*s]
		y3 := y[o+3*s : o+4*s]
		y4 := y[o+4*s : o+5*s]
		n := len(x0)
		x1, x2, x3, x4 = x1[:n], x2[:n], x3[:n], x4[:n]
		y0, y1, y2, y3, y4 = y0[:n], y1[:n], y2[:n], y3[:n], y4[:n]
		if p == 0 {
			for q, a0 := range x0 {
				a1, a2, a3, a4 := x1[q], x2[q], x3[q], x4[q]
				t1, t2 := a1+a4, a2+a3
				t3, t4 := a1-a4, a2-a3
				b1 := a0 + scale(t1, c1) + scale(t2, c2)
				b2 := a0 + scale(t1, c2) + scale(t2, c1)
				d1 := negI(scale(t3, s1) + scale(t4, s2))
				d2 := negI(scale(t3, s2) - scale(t4, s1))
				y0[q] = a0 + t1 + t2
				y1[q] = b1 + d1
				y2[q] = b2 + d2
				y3[q] = b2 - d2
				y4[q] = b1 - d1
			}
			continue
		}
		w := st.tw[4*p : 4*p+4 : 4*p+4]
		w1, w2, w3, w4 := w[0], w[1], w[2], w[3]
		for q, a0 := range x0 {
			a1, a2, a3, a4 := x1[q], x2[q], x3[q], x4[q]
			t1, t2 := a1+a4, a2+a3
			t3, t4 := a1-a4, a2-a3
			b1 := a0 + scale(t1, c1) + scale(t2, c2)
			b2 := a0 + scale(t1, c2) + scale(t2, c1)
			d1 := negI(scale(t3, s1) + scale(t4, s2))
			d2 := negI(scale(t3, s2) - scale(t4, s1))
			y0[q] = a0 + t1 + t2
			y1[q] = (b1 + d1) * w1
			y2[q] = (b2 + d2) * w2
			y3[q] = (b2 - d2) * w3
			y4[q] = (b1 - d1) * w4
		}
	}
}

// generic is the radix-r pass for any other odd prime r: a direct r-point DFT per butterfly
// that pairs inputs j and r-j, so output pair (k, r-k) shares (r-1)/2 real-by-complex
// products of cos and of sin: a quarter of the multiplications of the plain sum. Its cost,
// like FFTPACK's (gonum's) generic pass, grows as n·r.
func (st *fftStage) generic(x, y, buf []complex128) {
	r, s, m := st.r, st.s, st.m
	h := (r - 1) / 2
	roots := st.roots[:r]
	t, d := buf[:h], buf[h:2*h] // a_j + a_{r-j} and a_j - a_{r-j}, 1 ≤ j ≤ h
	for p := 0; p < m; p++ {
		tw := st.tw[(r-1)*p : (r-1)*(p+1)]
		for q := 0; q < s; q++ {
			a0 := x[q+s*p]
			sum := a0
			for j := range t {
				a, b := x[q+s*(p+(j+1)*m)], x[q+s*(p+(r-1-j)*m)]
				t[j], d[j] = a+b, a-b
				sum += t[j]
			}
			o := q + s*r*p
			y[o] = sum
			for k := 1; k <= h; k++ {
				// Σ_j a_j ω^{jk} = a0 + Σ_{j≤h} (cos θ_jk·t_j - i sin θ_jk·d_j), ω = exp(-2πi/r)
				c, sn := a0, complex128(0)
				jk := k
				for j, tj := range t {
					w := roots[jk]
					c += scale(tj, real(w))
					sn += scale(d[j], imag(w))
					if jk += k; jk >= r {
						jk -= r
					}
				}
				isn := complex(-imag(sn), real(sn)) // i·Σ imag(ω^{jk})·d_j
				lo, hi := c+isn, c-isn
				if p > 0 {
					lo *= tw[k-1]
					hi *= tw[r-k-1]
				}
				y[o+s*k] = lo
				y[o+s*(r-k)] = hi
			}
		}
	}
}

// realFFT is the forward FFT of n real samples, giving the n/2+1 non-negative-frequency
// coefficients. For even n the samples are packed into n/2 complex ones (even samples real,
// odd imaginary), transformed by an fftPlan of n/2, and the two interleaved spectra are
// separated; odd n runs the complex plan of n on the zero-imaginary signal.
type realFFT struct {
	n       int
	plan    *fftPlan
	buf     []complex128 // plan input
	twiddle []complex128 // even n: exp(-2πik/n), k ≤ n/4
}

func newRealFFT(n int) *realFFT {
	r := &realFFT{n: n}
	if n%2 == 1 {
		r.plan = newFFTPlan(n)
		r.buf = make([]complex128, n)
		return r
	}
	m := n / 2
	r.plan = newFFTPlan(m)
	r.buf = make([]complex128, m)
	r.twiddle = make([]complex128, m/2+1)
	for k := range r.twiddle {
		r.twiddle[k] = expNeg(k, n)
	}
	return r
}

// coefficients writes to dst the n/2+1 non-negative-frequency coefficients of x·w, zero-padded
// to n samples: len(x) ≤ n, and w is nil (no window) or as long as x.
func (r *realFFT) coefficients(dst []complex128, x, w []float64) {
	n := r.n
	dst = dst[:n/2+1]
	if w != nil {
		w = w[:len(x)]
	}
	if n%2 == 1 {
		z := r.buf[:n]
		for i, v := range x {
			if w != nil {
				v *= w[i]
			}
			z[i] = complex(v, 0)
		}
		clear(z[len(x):])
		copy(dst, r.plan.transform(z))
		return
	}
	m := n / 2
	z := r.buf[:m]
	h := len(x) / 2
	if w != nil {
		for i := range z[:h] {
			z[i] = complex(x[2*i]*w[2*i], x[2*i+1]*w[2*i+1])
		}
		if len(x)%2 == 1 {
			z[h] = complex(x[2*h]*w[2*h], 0)
			h++
		}
	} else {
		for i := range z[:h] {
			z[i] = complex(x[2*i], x[2*i+1])
		}
		if len(x)%2 == 1 {
			z[h] = complex(x[2*h], 0)
			h++
		}
	}
	clear(z[h:])
	z = r.plan.transform(z)[:m]
	// With Z the DFT of z, the spectra of the even and odd samples are
	// E[k] = (Z[k] + conj Z[m-k])/2 and O[k] = -i(Z[k] - conj Z[m-k])/2, and
	// X[k] = E[k] + w^k O[k], X[m-k] = conj(E[k] - w^k O[k]), w = exp(-2πi/n).
	z0 := z[0]
	dst[0] = complex(real(z0)+imag(z0), 0)
	dst[m] = complex(real(z0)-imag(z0), 0)
	tw := r.twiddle[:m/2+1]
	for k := 1; k <= m/2; k++ {
		a, b := z[k], z[m-k]
		er, ei := (real(a)+real(b))*0.5, (imag(a)-imag(b))*0.5
		// O = -i(a - conj b)/2
		or, oi := (imag(a)+imag(b))*0.5, -(real(a)-real(b))*0.5
		w := tw[k]
		tr := real(w)*or - imag(w)*oi
		ti := real(w)*oi + imag(w)*or
		dst[k] = complex(er+tr, ei+ti)
		dst[m-k] = complex(er-tr, ti-ei)
	}
}
