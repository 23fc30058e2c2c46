package shard_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/features/shard"
)

// A shard written with a Writer and read back through the memory-mapped
// Reader: rows keep their ids, labels and shapes.
func Example() {
	dir, err := os.MkdirTemp("", "shard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	audioShape, frameShape := []int{2, 3}, []int{1, 2, 2, 3} // [F,T] and [N,H,W,3]
	w, err := shard.NewWriter(dir, shard.ShardName(0), audioShape, frameShape)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // a no-op after Commit
	for i := 0; i < 3; i++ {
		row := shard.Row{ClipID: fmt.Sprintf("clip%d", i), Label: int32(i % 2), Split: "train",
			Audio: make([]float32, 6), Frames: make([]byte, 12), DurationS: 2, Source: "example"}
		row.Audio[0] = float32(i)
		if err := w.Append(row); err != nil {
			log.Fatal(err)
		}
	}
	info, err := w.Commit()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.File, info.Rows)

	r, err := shard.Open(filepath.Join(dir, info.File))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.NumRows(), r.AudioShape(), r.FrameShape())
	row := r.Row(2) // Audio and Frames alias the map until Close
	fmt.Println(row.ClipID, row.Label, row.Split, row.Audio[0], len(row.Frames), row.Source)
	// Output:
	// shard-00000.arrow 3
	// 3 [2 3] [1 2 2 3]
	// clip2 0 train 2 12 example
}
