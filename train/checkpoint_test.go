package train

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestCheckpointRoundTrip saves and loads a checkpoint in the current format
// and reads one in the older, all-gob format.
func TestCheckpointRoundTrip(t *testing.T) {
	ck := &checkpoint{Epoch: 3, OptSteps: 7, Method: []byte("state"), BestEpoch: 2, BestScore: 0.5, BestRank: 2, Rule: "admitted",
		Params:   []savedTensor{{Name: "a", Shape: []int{2}, Data: []float32{1, -2}}, {Name: "b", Shape: []int{1, 3}, Data: []float32{3, 4, 5.5}}},
		BN:       []savedBN{{Name: "bn", Mean: []float32{0.25}, Var: []float32{2}}},
		OptFirst: [][]float32{{1, 2}, {3, 4, 5}}, OptSecond: [][]float32{{6, 7}, {8, 9, 10}}}
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointFile)
	if err := saveCheckpoint(ck, path); err != nil {
		t.Fatal(err)
	}
	got, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ck) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, ck)
	}
	var legacy bytes.Buffer
	if err := gob.NewEncoder(&legacy).Encode(ck); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.bin")
	if err := os.WriteFile(old, legacy.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := loadCheckpoint(old); err != nil || !reflect.DeepEqual(got, ck) {
		t.Errorf("older format: %v\n got %+v\nwant %+v", err, got, ck)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCheckpoint(path); err == nil {
		t.Error("a truncated checkpoint loads")
	}
}

// TestCheckpointBestRank: a checkpoint written before BestRank existed
// (trainer revision 3) said an admitted epoch with BestOK; it reads as rank 1.
func TestCheckpointBestRank(t *testing.T) {
	for _, c := range []struct {
		ck   checkpoint
		want int
	}{
		{checkpoint{BestOK: true}, 1},
		{checkpoint{}, 0},
		{checkpoint{BestRank: 2}, 2},
	} {
		if got := c.ck.bestRank(); got != c.want {
			t.Errorf("%+v: rank %d, want %d", c.ck, got, c.want)
		}
	}
}
