package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// oddFiles makes, in dir, a regular file and one of each kind of path that is not a usable
// media file, each named name+ext, and returns the reason each must be rejected with.
func oddFiles(t *testing.T, dir, ext string) (good string, want map[string]string) {
	t.Helper()
	path := func(name string) string { return filepath.Join(dir, name+ext) }
	good = "aaaaaaaaaaa_000001"
	if err := os.WriteFile(path(good), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{
		"aaaaaaaaaaa_000002": "is a directory",
		"aaaaaaaaaaa_000003": "is a symbolic link loop",
		"aaaaaaaaaaa_000004": "is a named pipe (FIFO)",
		"aaaaaaaaaaa_000005": "is a broken symbolic link",
	}
	if err := os.Mkdir(path("aaaaaaaaaaa_000002"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path("aaaaaaaaaaa_000003"), path("aaaaaaaaaaa_000003")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path("aaaaaaaaaaa_000004"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), path("aaaaaaaaaaa_000005")); err != nil {
		t.Fatal(err)
	}
	// A link to the regular file is fine.
	if err := os.Symlink(path(good), path("aaaaaaaaaaa_000006")); err != nil {
		t.Fatal(err)
	}
	return good, want
}

// TestFileProblems: a clip whose file is a directory, a symbolic link loop, a broken link or a
// named pipe is rejected up front by every reader, with a reason that says which, not "does
// not exist" (and the pipe is never opened: opening it would block); a link to a regular file
// is a clip.
func TestFileProblems(t *testing.T) {
	check := func(t *testing.T, ds *Dataset, want map[string]string, okIDs ...string) {
		t.Helper()
		rej := rejectedByID(ds)
		for id, reason := range want {
			if r, ok := rej[id]; !ok || !strings.Contains(r.Reason, reason) || strings.Contains(r.Reason, "does not exist") {
				t.Errorf("%s: rejected as %+v, want a reason saying %q", id, r, reason)
			}
		}
		clips := clipsByID(ds)
		for _, id := range okIDs {
			if _, ok := clips[id]; !ok {
				t.Errorf("%s: not a clip (rejected: %+v)", id, rej[id])
			}
		}
	}
	t.Run("manifest", func(t *testing.T) {
		dir := t.TempDir()
		good, want := oddFiles(t, dir, ".mp4")
		rows := "id,path,label\n"
		for _, id := range []string{good, "aaaaaaaaaaa_000002", "aaaaaaaaaaa_000003", "aaaaaaaaaaa_000004", "aaaaaaaaaaa_000005", "aaaaaaaaaaa_000006"} {
			rows += id + "," + id + ".mp4,x\n"
		}
		rows += "audio,aaaaaaaaaaa_000001.mp4,x,aaaaaaaaaaa_000004.mp4\n"
		rows = strings.Replace(rows, "id,path,label\n", "id,path,label,audio_path\n", 1)
		rows = strings.ReplaceAll(rows, ",x\n", ",x,\n")
		man := filepath.Join(dir, "m.csv")
		if err := os.WriteFile(man, []byte(rows), 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := ReadManifest(man, ManifestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want["audio"] = "audio file " + filepath.Join(dir, "aaaaaaaaaaa_000004.mp4") + " is a named pipe"
		check(t, ds, want, good, "aaaaaaaaaaa_000006")
	})
	t.Run("vggsound", func(t *testing.T) {
		dir := t.TempDir()
		_, want := oddFiles(t, dir, ".mp4")
		csv := filepath.Join(t.TempDir(), "vggsound.csv")
		var b strings.Builder
		for i := 1; i <= 6; i++ {
			b.WriteString("aaaaaaaaaaa," + string(rune('0'+i)) + ",x,train\n")
		}
		if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, only := range []bool{false, true} {
			ds, err := ReadVGGSound(VGGSoundOptions{CSV: csv, ClipsDir: dir, OnlyPresent: only})
			if err != nil {
				t.Fatal(err)
			}
			check(t, ds, want, "aaaaaaaaaaa_000001", "aaaaaaaaaaa_000006")
		}
	})
	t.Run("cremad", func(t *testing.T) {
		root := t.TempDir()
		video := filepath.Join(root, "VideoFlash")
		if err := os.Mkdir(video, 0o755); err != nil {
			t.Fatal(err)
		}
		touch(t, root, "VideoFlash/1001_DFA_ANG_XX.flv")
		if err := os.Mkdir(filepath.Join(video, "1001_DFA_HAP_XX.flv"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(video, "1001_DFA_SAD_XX.flv"), 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := ReadCremaD(CremaDOptions{Root: root, Split: SplitNone})
		if err != nil {
			t.Fatal(err)
		}
		check(t, ds, map[string]string{"1001_DFA_HAP_XX": "is a directory", "1001_DFA_SAD_XX": "is a named pipe"}, "1001_DFA_ANG_XX")
	})
}
