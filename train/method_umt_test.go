package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// teacherEmbeddings are umt_reference.py's fixed teacher embeddings of
// modality m for the batch's clips.
func teacherEmbeddings(m int, ids []string) map[string][]float64 {
	out := map[string][]float64{}
	for i, id := range ids {
		e := make([]float64, gcEmbed)
		for j := range e {
			k := float64(i*gcEmbed + j)
			e[j] = 0.3 * math.Sin(0.7*k+1.1*float64(m)+0.2)
		}
		out[id] = e
	}
	return out
}

// TestUMTMatchesPyTorch compares UMT's loss (cross-entropy plus the scaled
// feature MSE to the teachers) and its gradient with
// testdata/umt_reference.py.
func TestUMTMatchesPyTorch(t *testing.T) {
	var ref struct {
		Scale float64 `json:"scale"`
		Cases []struct {
			Head   Head     `json:"head"`
			Labels []int    `json:"labels"`
			Loss   float64  `json:"loss"`
			Grads  refGrads `json:"grads"`
		} `json:"cases"`
	}
	readFixture(t, "umt_ref.json", &ref)
	ids := []string{"c0", "c1", "c2"}
	for _, rc := range ref.Cases {
		name := fmt.Sprintf("%s/%v", rc.Head, rc.Labels)
		meth := &umt{cfg: UMTConfig{Scale: ref.Scale}}
		meth.teacher = [2]map[string][]float64{teacherEmbeddings(0, ids), teacherEmbeddings(1, ids)}
		n := fixtureNet(t, ModeUMT, rc.Head, meth, rc.Labels, 1)
		if err := meth.BeforeStep(&Step{n: n, N: gcBatch, Labels: rc.Labels, IDs: ids}); err != nil {
			t.Fatal(err)
		}
		grads, _ := fixtureGrads(t, n)
		checkClose(t, name+" loss", 0, values64(n.loss)[0], rc.Loss, 1e-10, 1e-12)
		checkGrads(t, name, n, grads, rc.Grads, 1e-8)
	}
}

// TestUMTTeachers: without --teacher-* flags the mode trains its teachers
// into the run folder and a resumed run reuses them; a teacher trained for
// fewer epochs than asked is resumed, a teacher folder trained with other
// settings refused, and so is a named teacher of the wrong mode.
func TestUMTTeachers(t *testing.T) {
	src := synthExamples(40, 5)
	dir := t.TempDir()
	cfg := tinyConfig(dir, ModeUMT)
	cfg.Epochs = 1
	if _, err := RunExamples(context.Background(), cfg, src); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"audio", "video"} {
		if _, err := ReadResult(filepath.Join(dir, "teacher-"+mode)); err != nil {
			t.Errorf("teacher %s: %v", mode, err)
		}
	}
	stamp := func() string {
		fi, err := os.Stat(filepath.Join(dir, "teacher-audio", ResultFile))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().String()
	}
	before := stamp()
	more := cfg
	more.Epochs, more.Resume = 2, true
	if _, err := RunExamples(context.Background(), more, src); err != nil {
		t.Fatal(err)
	}
	if stamp() != before {
		t.Error("the resumed run trained its audio teacher again")
	}
	longer := tinyConfig(t.TempDir(), ModeUMT)
	longer.Epochs = 1
	longer.Method.(*UMTConfig).TeacherEpochs = 2
	if err := os.CopyFS(filepath.Join(longer.Out, "teacher-audio"), os.DirFS(filepath.Join(dir, "teacher-audio"))); err != nil {
		t.Fatal(err)
	}
	if _, err := RunExamples(context.Background(), longer, src); err != nil {
		t.Fatal(err)
	}
	if res, err := ReadResult(filepath.Join(longer.Out, "teacher-audio")); err != nil || res.Epochs != 2 {
		t.Errorf("a 1-epoch teacher with --teacher-epochs 2: %v, result %+v (want it resumed to 2 epochs)", err, res)
	}
	other := tinyConfig(t.TempDir(), ModeUMT)
	other.Epochs, other.Seed = 1, 9
	if err := os.CopyFS(filepath.Join(other.Out, "teacher-audio"), os.DirFS(filepath.Join(dir, "teacher-audio"))); err != nil {
		t.Fatal(err)
	}
	if _, err := RunExamples(context.Background(), other, src); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Errorf("a teacher folder of another seed: %v, want an error naming the seed", err)
	}
	named := tinyConfig(t.TempDir(), ModeUMT)
	named.Epochs = 1
	named.Method.(*UMTConfig).TeacherAudio = filepath.Join(dir, "teacher-video")
	if _, err := RunExamples(context.Background(), named, src); err == nil || !strings.Contains(err.Error(), "--mode video run") {
		t.Errorf("a video run as audio teacher: %v", err)
	}
}
