// Command avbprof profiles avbalance's per-clip extraction work, for bench/run.sh.
//
// It runs the same decoders and feature extractor as pipeline.Worker, one stage at a time on
// one locked OS thread, and reports each stage's CPU time per clip (CLOCK_THREAD_CPUTIME_ID,
// median over passes) as JSON lines, with pipeline.Worker.Process as a whole on the process's
// CPU clock; with -cpuprofile it also writes a pprof CPU profile of a whole pipeline.Extract run
// over the same clips.
//
//	go run ./bench/avbprof -manifest clips.csv -preset ogmge-cremad -passes 5
//	go run ./bench/avbprof -manifest clips.csv -preset ogmge-cremad -cpuprofile cpu.pprof -out DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"
	"unsafe"

	"github.com/asticode/go-astiav"
	"github.com/avbalance/avbalance/audio"
	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/demux"
	"github.com/avbalance/avbalance/pipeline"
	"github.com/avbalance/avbalance/video"
)

func main() {
	manifest := flag.String("manifest", "", "manifest CSV (id,path,label,split)")
	presetName := flag.String("preset", "default", "feature preset")
	passes := flag.Int("passes", 5, "passes over the clips (after one warm-up pass)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of pipeline.Extract over the clips here (needs -out)")
	out := flag.String("out", "", "output folder for the profiled Extract run")
	workers := flag.Int("workers", 1, "workers of the profiled Extract run")
	flag.Parse()
	astiav.SetLogLevel(astiav.LogLevelFatal)
	p, err := features.Lookup(*presetName)
	check(err)
	ds, err := ingest.ReadManifest(*manifest, ingest.ManifestOptions{})
	check(err)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		_, err = pipeline.Extract(context.Background(), pipeline.Config{Dataset: ds, Preset: p, Out: *out, Workers: *workers})
		pprof.StopCPUProfile()
		check(err)
		check(f.Close())
		return
	}
	stages(ds, p, *passes)
}

// stages times each stage of every clip on one locked thread and prints the medians.
func stages(ds *ingest.Dataset, p features.Preset, passes int) {
	runtime.LockOSThread()
	ad := audio.NewDecoder(p.SampleRate)
	defer ad.Close()
	vd := video.NewDecoder(video.Sampler{Count: p.Frames, FPS: p.FrameFPS}, p.Width, p.Height)
	defer vd.Close()
	fx := features.NewExtractor(p)
	dir, err := os.MkdirTemp("", "avbprof")
	check(err)
	defer os.RemoveAll(dir)
	// audio and video are each decoder on its own (each opens and probes the file); av is both
	// as pipeline.Worker decodes a clip without a separate audio file: one demux pass through
	// video.Decoder.FramesShared when it shares the file, else video then audio.
	// worker is pipeline.Worker.Process on its own (decode and features, no shard), timed on
	// the process's CPU clock (every thread: the Go runtime's too), as the Python peers time a
	// clip.
	names := []string{"audio", "video", "av", "features", "shard", "probe", "worker"}
	wk := pipeline.NewWorker(p, 1)
	defer wk.Close()
	times := map[string]map[string][]float64{}
	// One shard for every pass, as an extraction writes hundreds of rows per shard: the batch
	// buffers and the Commit (footer, fsync) are amortised over all the rows.
	w, err := shard.NewWriter(dir, shard.ShardName(0), p.AudioShape(), p.FrameShape())
	check(err)
	for k := 0; k <= passes; k++ {
		for _, c := range ds.Clips {
			var row shard.Row
			run := []func(){
				func() {
					s, err := ad.Decode(c.Path)
					check(err)
					row.Audio = []float32(nil)
					row.Frames = nil
					tmpSamples = s
				},
				func() { f, d, err := vd.Frames(c.Path); check(err); row.Frames, row.DurationS = f, float32(d) },
				func() {
					sink := &audioSink{dec: ad, path: c.Path}
					_, _, shared, err := vd.FramesShared(context.Background(), c.Path, sink)
					check(err)
					if shared {
						_, err = ad.End()
					} else {
						_, err = ad.Decode(c.Path)
					}
					check(err)
				},
				func() { a, err := fx.Audio(tmpSamples, 1); check(err); row.Audio = a },
				func() { row.ClipID, row.Split = fmt.Sprint(c.ID, "-", k), c.Split; check(w.Append(row)) },
				func() { probe(c.Path) },
				func() {
					if _, f := wk.Process(c); f != nil {
						check(fmt.Errorf("%s: %s", c.ID, f.Error))
					}
				},
			}
			if times[c.ID] == nil {
				times[c.ID] = map[string][]float64{}
			}
			for i, f := range run {
				clock := threadCPU
				if names[i] == "worker" {
					clock = processCPU
				}
				t0 := clock()
				f()
				if k > 0 {
					times[c.ID][names[i]] = append(times[c.ID][names[i]], clock()-t0)
				}
			}
		}
	}
	t0 := threadCPU()
	_, err = w.Commit()
	check(err)
	commitPerRow := (threadCPU() - t0) / float64((passes+1)*len(ds.Clips))
	for _, c := range ds.Clips {
		for i := range times[c.ID]["shard"] {
			times[c.ID]["shard"][i] += commitPerRow
		}
	}
	enc := json.NewEncoder(os.Stdout)
	for _, c := range ds.Clips {
		m := map[string]any{"peer": "avbalance-stages", "id": c.ID}
		total := 0.0
		for _, n := range names {
			v := median(times[c.ID][n])
			m[n+"_s"] = v
			if n == "av" || n == "features" || n == "shard" { // the worker's path
				total += v
			}
		}
		m["cpu_s"] = total
		check(enc.Encode(m))
	}
}

var tmpSamples []float32

// threadCPU is the calling OS thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID: exact,
// unlike getrusage's tick-sampled RUSAGE_THREAD).
func threadCPU() float64 { return clockSeconds(3) } // CLOCK_THREAD_CPUTIME_ID

// processCPU is the process's CPU time in seconds, all threads (CLOCK_PROCESS_CPUTIME_ID).
func processCPU() float64 { return clockSeconds(2) }

func clockSeconds(clock uintptr) float64 {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		check(e)
	}
	return time.Duration(ts.Nano()).Seconds()
}

// probe opens path and makes its streams known as the decoders do (internal/demux: FLV by
// reading ahead to the first packet of each stream, other header-less containers with FFmpeg's
// stream-info probe), then closes it: the cost an audio+video file pays once when the decoders
// share it, twice when not.
func probe(path string) {
	in, err := demux.Open(context.Background(), path)
	check(err)
	defer in.Close()
	check(in.FindStreams(func(*astiav.FormatContext) bool { return true }))
}

// audioSink feeds the audio packets of a FramesShared pass to the audio decoder, as
// pipeline.Worker does.
type audioSink struct {
	dec  *audio.Decoder
	path string
}

func (s *audioSink) Open(fc *astiav.FormatContext, shared bool) (int, error) {
	if !shared {
		return -1, nil
	}
	st := audio.FindStream(fc)
	if st == nil {
		return -1, fmt.Errorf("%s: no audio stream", s.path)
	}
	return st.Index(), s.dec.Begin(s.path, st)
}

func (s *audioSink) Packet(pkt *astiav.Packet) error { return s.dec.Packet(pkt) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "avbprof:", err)
		os.Exit(1)
	}
}
