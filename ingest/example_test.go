package ingest_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/ingest"
)

func ExampleReadManifest() {
	dir, err := os.MkdirTemp("", "manifest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"bark.mp4", "meow.mp4"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	manifest := "id,path,label,split\n" +
		"bark,bark.mp4,dog,train\n" +
		"meow,meow.mp4,cat,test\n" +
		"bark,meow.mp4,cat,train\n"
	path := filepath.Join(dir, "clips.csv")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		log.Fatal(err)
	}

	ds, err := ingest.ReadManifest(path, ingest.ManifestOptions{})
	if err != nil {
		log.Fatal(err) // a configuration problem: nothing was read
	}
	fmt.Println("labels:", ds.Labels)
	for _, c := range ds.Clips {
		fmt.Println(c.ID, ds.Labels[c.Label], c.Split, filepath.Base(c.Path))
	}
	for _, r := range ds.Rejected {
		fmt.Println("rejected:", r.ClipID, r.Reason)
	}
	// Output:
	// labels: [cat dog]
	// bark dog train bark.mp4
	// meow cat test meow.mp4
	// rejected: bark#clips.csv:4 clips.csv line 4: id "bark" listed again (first at clips.csv line 2)
}
