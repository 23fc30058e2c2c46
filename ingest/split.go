package ingest

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// SplitPolicy chooses how a reader assigns Clip.Split.
type SplitPolicy string

// Split policies. Not every reader offers every policy; see each reader's options.
const (
	// SplitBySpeaker puts every speaker (actor) in exactly one of train, val and test,
	// chosen by a seeded shuffle of the speakers.
	SplitBySpeaker SplitPolicy = "speaker"
	// SplitFromLists takes train and test from published clip lists.
	SplitFromLists SplitPolicy = "lists"
	// SplitNone leaves Clip.Split empty.
	SplitNone SplitPolicy = "none"
)

// Fractions are the shares of train, val and test in a split. They must be
// non-negative and sum to 1; the zero value means the default 0.7/0.1/0.2.
type Fractions struct {
	Train, Val, Test float64
}

// DefaultFractions is the split used when Fractions is left zero.
func DefaultFractions() Fractions { return Fractions{Train: 0.7, Val: 0.1, Test: 0.2} }

func (f Fractions) resolve() (Fractions, error) {
	if f == (Fractions{}) {
		return DefaultFractions(), nil
	}
	for _, v := range []float64{f.Train, f.Val, f.Test} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return f, fmt.Errorf("split fractions %v/%v/%v: each must be a number >= 0", f.Train, f.Val, f.Test)
		}
	}
	if s := f.Train + f.Val + f.Test; math.Abs(s-1) > 1e-6 {
		return f, fmt.Errorf("split fractions %v/%v/%v sum to %v, want 1", f.Train, f.Val, f.Test, s)
	}
	return f, nil
}

// counts turns fractions into group counts summing to n by the largest-remainder
// method (ties go to train, then val, then test).
func (f Fractions) counts(n int) (train, val, test int) {
	exact := [3]float64{f.Train * float64(n), f.Val * float64(n), f.Test * float64(n)}
	var c [3]int
	left := n
	for i, e := range exact {
		c[i] = int(math.Floor(e))
		left -= c[i]
	}
	for ; left > 0; left-- {
		best := 0
		for i := 1; i < 3; i++ {
			if exact[i]-float64(c[i]) > exact[best]-float64(c[best]) {
				best = i
			}
		}
		c[best]++
		exact[best] = float64(c[best]) // its remainder is used up
	}
	return c[0], c[1], c[2]
}

// assignGroups shuffles the distinct groups (e.g. actors) with seed and gives the
// first share to train, the next to val and the rest to test.
func assignGroups(groups []string, f Fractions, seed Seed) map[string]string {
	g := sortedUnique(groups)
	shuffle(g, seed)
	nTrain, nVal, _ := f.counts(len(g))
	out := make(map[string]string, len(g))
	for i, k := range g {
		switch {
		case i < nTrain:
			out[k] = SplitTrain
		case i < nTrain+nVal:
			out[k] = SplitVal
		default:
			out[k] = SplitTest
		}
	}
	return out
}

// carve picks round(frac*n) of the distinct keys by a seeded shuffle; they become val.
func carve(keys []string, frac float64, seed Seed) map[string]bool {
	k := sortedUnique(keys)
	shuffle(k, seed)
	n := int(math.Round(frac * float64(len(k))))
	out := make(map[string]bool, n)
	for _, key := range k[:n] {
		out[key] = true
	}
	return out
}

// carveIndex is carve for items with distinct keys, given by index: it sorts the
// indices by key, shuffles them and returns the first round(frac*n).
func carveIndex(idx []int, key func(int) string, frac float64, seed Seed) []int {
	idx = slices.Clone(idx)
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	shuffle(idx, seed)
	return idx[:int(math.Round(frac*float64(len(idx))))]
}

func checkValFrac(frac float64) error {
	if frac < 0 || frac >= 1 || math.IsNaN(frac) {
		return fmt.Errorf("val fraction %v: want 0 <= f < 1", frac)
	}
	return nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	w := 0
	for i, v := range out {
		if i == 0 || v != out[w-1] {
			out[w] = v
			w++
		}
	}
	return out[:w]
}

// shuffle is a Fisher–Yates shuffle driven by SplitMix64. It is written out here,
// not taken from math/rand, so a seed gives the same split on every Go release
// and platform.
func shuffle[T any](s []T, seed Seed) {
	state := uint64(seed)
	for i := len(s) - 1; i > 0; i-- {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		j := int(z % uint64(i+1)) // bias < 2^-40 for any realistic n
		s[i], s[j] = s[j], s[i]
	}
}
