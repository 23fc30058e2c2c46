package ingest

import (
	"fmt"
	"reflect"
	"testing"
)

func TestShuffleIsPinned(t *testing.T) {
	// The split of a published seed must never change: this pins the algorithm.
	s := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	shuffle(s, 42)
	got := fmt.Sprint(s)
	const want = "[a j f i g e h c b d]" // also computed by an independent Python SplitMix64 + Fisher–Yates
	if got != want {
		t.Errorf("shuffle(seed 42) = %s, want %s", got, want)
	}
}

func TestFractionsCounts(t *testing.T) {
	cases := []struct {
		f       Fractions
		n       int
		a, b, c int
	}{
		{DefaultFractions(), 91, 64, 9, 18},
		{DefaultFractions(), 10, 7, 1, 2},
		{DefaultFractions(), 1, 1, 0, 0},
		{DefaultFractions(), 0, 0, 0, 0},
		{Fractions{Train: 0.5, Test: 0.5}, 3, 2, 0, 1},
		{Fractions{Train: 1}, 5, 5, 0, 0},
		{Fractions{Val: 1.0 / 3, Train: 1.0 / 3, Test: 1.0 / 3}, 3, 1, 1, 1},
	}
	for _, c := range cases {
		a, b, cc := c.f.counts(c.n)
		if a != c.a || b != c.b || cc != c.c {
			t.Errorf("%+v.counts(%d) = %d/%d/%d, want %d/%d/%d", c.f, c.n, a, b, cc, c.a, c.b, c.c)
		}
		if a+b+cc != c.n {
			t.Errorf("%+v.counts(%d) sums to %d", c.f, c.n, a+b+cc)
		}
	}
}

func TestFractionsResolve(t *testing.T) {
	if f, err := (Fractions{}).resolve(); err != nil || f != DefaultFractions() {
		t.Errorf("zero Fractions resolve to %+v, %v; want the default", f, err)
	}
	for _, bad := range []Fractions{{Train: 0.5, Test: 0.4}, {Train: 1.2, Test: -0.2}, {Train: 2}} {
		if _, err := bad.resolve(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestCarve(t *testing.T) {
	keys := []string{"d", "a", "c", "b", "a"} // 4 distinct
	v1 := carve(keys, 0.5, 7)
	if len(v1) != 2 {
		t.Fatalf("carve 0.5 of 4 keys gave %d", len(v1))
	}
	if v2 := carve([]string{"a", "b", "c", "d"}, 0.5, 7); !reflect.DeepEqual(v1, v2) {
		t.Errorf("carve depends on input order: %v vs %v", v1, v2)
	}
	if len(carve(keys, 0, 7)) != 0 {
		t.Error("carve 0 picked keys")
	}
}

func TestAssignGroupsDeterministic(t *testing.T) {
	var g []string
	for i := 0; i < 50; i++ {
		g = append(g, fmt.Sprintf("g%02d", i))
	}
	a := assignGroups(g, DefaultFractions(), 3)
	b := assignGroups(append([]string(nil), g...), DefaultFractions(), 3)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different assignment")
	}
	if c := assignGroups(g, DefaultFractions(), 4); reflect.DeepEqual(a, c) {
		t.Error("seeds 3 and 4 give the same assignment")
	}
	n := map[string]int{}
	for _, s := range a {
		n[s]++
	}
	if n[SplitTrain] != 35 || n[SplitVal] != 5 || n[SplitTest] != 10 {
		t.Errorf("split sizes %v, want 35/5/10", n)
	}
}
