// Command shardnpy copies an extraction folder's rows into NumPy files for
// the PyTorch peer of bench/train_cli.sh, which memory-maps them as the
// trainer memory-maps the shards (pyarrow is not packaged for Debian 12):
// audio.npy float32 [N,F,T], frames.npy uint8 [N,FN,H,W,3], labels.npy
// int64 [N] and split.json (the row indices of each split).
//
//	go run ./bench/shardnpy -shards DIR -out DIR
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/avbalance/avbalance/train"
)

func main() {
	shards := flag.String("shards", "", "extraction output folder")
	out := flag.String("out", "", "output folder")
	flag.Parse()
	if *shards == "" || *out == "" {
		log.Fatal("shardnpy needs -shards and -out")
	}
	src, err := train.OpenShards(*shards)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	n := src.Len()
	as, fs := src.AudioShape(), src.FrameShape()
	audio := create(filepath.Join(*out, "audio.npy"), "<f4", append([]int{n}, as...))
	frames := create(filepath.Join(*out, "frames.npy"), "|u1", append([]int{n}, fs...))
	labels := create(filepath.Join(*out, "labels.npy"), "<i8", []int{n})
	splits := map[string][]int{}
	for i := 0; i < n; i++ {
		ex, err := src.Example(i)
		if err != nil {
			log.Fatal(err)
		}
		check(binary.Write(audio, binary.LittleEndian, ex.Audio))
		_, err = frames.Write(ex.Frames)
		check(err)
		check(binary.Write(labels, binary.LittleEndian, int64(ex.Label)))
		splits[ex.Split] = append(splits[ex.Split], i)
	}
	for _, w := range []*npy{audio, frames, labels} {
		check(w.Flush())
		check(w.f.Close())
	}
	b, err := json.Marshal(map[string]any{"labels": src.Labels(), "splits": splits})
	check(err)
	check(os.WriteFile(filepath.Join(*out, "split.json"), b, 0o644))
}

type npy struct {
	*bufio.Writer
	f *os.File
}

// create starts a version 1.0 .npy file of a C-order array.
func create(path, dtype string, shape []int) *npy {
	f, err := os.Create(path)
	check(err)
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, tuple)
	// magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteString("\x93NUMPY\x01\x00")
	check(err)
	check(binary.Write(w, binary.LittleEndian, uint16(len(header))))
	_, err = w.WriteString(header)
	check(err)
	return &npy{w, f}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
