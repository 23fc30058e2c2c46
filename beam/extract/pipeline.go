package extract

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"

	// The filesystems an output folder can be on.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
)

// Tool is the index.json "tool" of a folder this package wrote.
const Tool = pipeline.Tool + " (beam)"

func init() {
	beam.RegisterType(reflect.TypeOf((*ingest.Clip)(nil)).Elem())
	register.DoFn3x1[[]byte, func(ingest.Clip), func(string, string), error](&readFn{})
	register.DoFn4x0[context.Context, ingest.Clip, func(int, []byte), func(string, string)](&extractFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func(string), error](&writeShardFn{})
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(*string, *string) bool, error](&finalizeFn{})
	register.Emitter1[ingest.Clip]()
	register.Emitter1[string]()
	register.Emitter2[string, string]()
	register.Emitter2[int, []byte]()
	register.Iter1[[]byte]()
	register.Iter1[string]()
	register.Iter2[string, string]()
}

var (
	clipsOK     = beam.NewCounter("avbalance", "clips_ok")
	clipsFailed = beam.NewCounter("avbalance", "clips_failed")
	shardsDone  = beam.NewCounter("avbalance", "shards_written")
)

// Build adds the extraction job to scope s. ds is the clip list as the launcher
// read it with cfg.Input.Read: it fixes the labels, the clip count the workers
// must find and, with cfg.Shards 0, the number of shards.
func Build(s beam.Scope, cfg Config, ds *ingest.Dataset) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ix := shard.Index{
		SchemaVersion: shard.SchemaVersion,
		Tool:          Tool,
		Created:       time.Now().UTC(),
		Dataset:       ds.Name,
		Labels:        ds.Labels,
		ClipsTotal:    len(ds.Clips) + len(ds.Rejected),
	}
	if err := ix.SetPreset(cfg.Preset); err != nil {
		return err
	}
	ixJSON, err := json.Marshal(&ix)
	if err != nil {
		return err
	}
	n := cfg.ShardCount(len(ds.Clips))

	s = s.Scope("avbalance-extract")
	clips, rejected := beam.ParDo2(s.Scope("ReadClips"), &readFn{Input: cfg.Input, Total: ix.ClipsTotal}, beam.Impulse(s))
	clips = beam.Reshuffle(s, clips)
	rows, failed := beam.ParDo2(s.Scope("Extract"), &extractFn{Preset: cfg.Preset, Seed: cfg.Seed, Shards: n, Workers: cfg.Workers}, clips)
	infos := beam.ParDo(s.Scope("WriteShards"), &writeShardFn{Out: cfg.Out, Preset: cfg.Preset}, beam.GroupByKey(s, rows))
	failures := beam.Flatten(s, rejected, failed)
	beam.ParDo0(s.Scope("Finalize"), &finalizeFn{Out: cfg.Out, Index: string(ixJSON)}, beam.Impulse(s),
		beam.SideInput{Input: infos}, beam.SideInput{Input: failures})
	return nil
}

// readFn reads the clip list on a worker and emits its clips and, as
// (clip id, failures.jsonl line), the rows the reader rejected.
type readFn struct {
	Input ingest.Source `json:"input"`
	Total int           `json:"total"` // clips + rejected the launcher found
}

func (f *readFn) ProcessElement(_ []byte, emitClip func(ingest.Clip), emitFailure func(string, string)) error {
	ds, err := f.Input.Read()
	if err != nil {
		return fmt.Errorf("read clip list on the worker: %w", err)
	}
	if got := len(ds.Clips) + len(ds.Rejected); got != f.Total {
		return fmt.Errorf("the worker reads %d clips, the launcher read %d: are the dataset files the same on every machine?", got, f.Total)
	}
	for _, r := range ds.Rejected {
		line, err := failureLine(shard.Failure{ClipID: r.ClipID, Path: r.Path, Stage: ingest.StageIngest, Error: r.Reason})
		if err != nil {
			return err
		}
		emitFailure(r.ClipID, line)
	}
	for _, c := range ds.Clips {
		emitClip(c)
	}
	return nil
}

// extractFn turns clips into encoded rows keyed by their shard, or failure
// lines keyed by clip id. Each DoFn instance owns Workers pipeline.Workers
// (decoders and feature extractor), made in Setup and reused for all its clips.
// With Workers > 1 it decodes that many clips of a bundle at once: a runner
// that hands one instance all elements in one bundle (prism does) still uses
// every core. Outputs are emitted from ProcessElement and FinishBundle, never
// from the decoding goroutines.
type extractFn struct {
	Preset  features.Preset `json:"preset"`
	Seed    uint64          `json:"seed"`
	Shards  int             `json:"shards"`
	Workers int             `json:"workers"` // clips decoded at once per instance; ≤ 1: one at a time

	workers []*pipeline.Worker
	b       *bundle
}

// outcome is one processed clip, encoded inside the decoding goroutine (the
// row's slices may belong to the worker).
type outcome struct {
	id    string
	shard int
	row   []byte
	fail  string // failures.jsonl line when the clip failed
}

type bundle struct {
	jobs     chan ingest.Clip
	results  chan outcome // capacity len(workers): a decoding goroutine never blocks on it
	inflight int
	wg       sync.WaitGroup
}

func (f *extractFn) Setup() {
	for range max(1, f.Workers) {
		f.workers = append(f.workers, pipeline.NewWorker(f.Preset, f.Seed))
	}
}

// StartBundle takes the emitters only because Beam requires StartBundle and
// FinishBundle to name the same outputs as ProcessElement.
func (f *extractFn) StartBundle(_ context.Context, _ func(int, []byte), _ func(string, string)) {
	f.stop() // a bundle that was abandoned (failed) before FinishBundle
	if len(f.workers) < 2 {
		return
	}
	b := &bundle{jobs: make(chan ingest.Clip), results: make(chan outcome, len(f.workers))}
	for _, w := range f.workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for c := range b.jobs {
				b.results <- f.process(w, c)
			}
		}()
	}
	f.b = b
}

func (f *extractFn) ProcessElement(ctx context.Context, c ingest.Clip, emitRow func(int, []byte), emitFailure func(string, string)) {
	b := f.b
	if b == nil {
		f.emit(ctx, f.process(f.workers[0], c), emitRow, emitFailure)
		return
	}
	if b.inflight == len(f.workers) {
		f.emit(ctx, <-b.results, emitRow, emitFailure)
		b.inflight--
	}
	b.jobs <- c
	b.inflight++
	for {
		select {
		case o := <-b.results:
			b.inflight--
			f.emit(ctx, o, emitRow, emitFailure)
		default:
			return
		}
	}
}

func (f *extractFn) FinishBundle(ctx context.Context, emitRow func(int, []byte), emitFailure func(string, string)) {
	if b := f.b; b != nil {
		for ; b.inflight > 0; b.inflight-- {
			f.emit(ctx, <-b.results, emitRow, emitFailure)
		}
	}
	f.stop()
}

// stop ends the current bundle's goroutines, dropping results nobody emitted.
func (f *extractFn) stop() {
	if f.b != nil {
		close(f.b.jobs)
		f.b.wg.Wait()
		f.b = nil
	}
}

func (f *extractFn) Teardown() {
	f.stop()
	for _, w := range f.workers {
		w.Close()
	}
	f.workers = nil
}

func (f *extractFn) process(w *pipeline.Worker, c ingest.Clip) outcome {
	row, fail := w.Process(c)
	if fail != nil {
		line, err := failureLine(*fail)
		if err != nil { // cannot happen for plain strings; keep the clip accounted for anyway
			line = fmt.Sprintf(`{"clip_id":%q,"path":"","stage":%q,"error":"unencodable failure"}`+"\n", c.ID, fail.Stage)
		}
		return outcome{id: c.ID, fail: line}
	}
	return outcome{id: c.ID, shard: ShardOf(c.ID, f.Shards), row: encodeRow(row)}
}

func (f *extractFn) emit(ctx context.Context, o outcome, emitRow func(int, []byte), emitFailure func(string, string)) {
	if o.fail != "" {
		clipsFailed.Inc(ctx, 1)
		emitFailure(o.id, o.fail)
		return
	}
	clipsOK.Inc(ctx, 1)
	emitRow(o.shard, o.row)
}

// failureLine is one line of failures.jsonl, exactly as shard.FailureLog writes it.
func failureLine(f shard.Failure) (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("failure of clip %q: %w", f.ClipID, err)
	}
	return string(b) + "\n", nil
}

// writeShardFn writes one shard: its rows sorted by clip id, with shard.Writer
// into a local temp folder, then copied whole to Out under the shard's name.
// It emits the shard's ShardInfo as JSON.
type writeShardFn struct {
	Out    string          `json:"out"`
	Preset features.Preset `json:"preset"`
}

func (f *writeShardFn) ProcessElement(ctx context.Context, idx int, next func(*[]byte) bool, emit func(string)) error {
	var rows [][]byte
	var b []byte
	for next(&b) {
		rows = append(rows, b)
		b = nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rowID(rows[i]) < rowID(rows[j]) })
	// A clip is in one row; an identical repeat (a runner replaying an element) is dropped.
	kept := rows[:0]
	for i, r := range rows {
		if i > 0 && rowID(r) == rowID(rows[i-1]) {
			if !bytes.Equal(r, rows[i-1]) {
				return fmt.Errorf("shard %d: clip %q extracted twice with different results", idx, rowID(r))
			}
			continue
		}
		kept = append(kept, r)
	}
	rows = kept

	tmp, err := os.MkdirTemp("", "avbalance-beam-shard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name := shard.ShardName(idx)
	w, err := shard.NewWriter(tmp, name, f.Preset.AudioShape(), f.Preset.FrameShape())
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, r := range rows {
		row, err := decodeRow(r)
		if err != nil {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		if err := w.Append(row); err != nil {
			return err
		}
	}
	info, err := w.Commit()
	if err != nil {
		return err
	}
	src, err := os.Open(tmp + "/" + name)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := writeFile(ctx, f.Out, name, src); err != nil {
		return err
	}
	js, err := json.Marshal(info)
	if err != nil {
		return err
	}
	shardsDone.Inc(ctx, 1)
	emit(string(js))
	return nil
}

// finalizeFn runs once all shards are written (its side inputs are complete):
// it writes failures.jsonl sorted by clip id, then index.json, whose presence
// says the folder is complete.
type finalizeFn struct {
	Out   string `json:"out"`
	Index string `json:"index"` // shard.Index JSON without shards and counts
}

func (f *finalizeFn) ProcessElement(ctx context.Context, _ []byte, nextInfo func(*string) bool, nextFailure func(*string, *string) bool) error {
	var ix shard.Index
	if err := json.Unmarshal([]byte(f.Index), &ix); err != nil {
		return err
	}
	var js string
	for nextInfo(&js) {
		var info shard.ShardInfo
		if err := json.Unmarshal([]byte(js), &info); err != nil {
			return err
		}
		ix.Shards = append(ix.Shards, info)
		ix.ClipsOK += info.Rows
	}
	sort.Slice(ix.Shards, func(i, j int) bool { return ix.Shards[i].File < ix.Shards[j].File })
	for i := 1; i < len(ix.Shards); i++ {
		if ix.Shards[i].File == ix.Shards[i-1].File {
			return fmt.Errorf("shard %s written twice", ix.Shards[i].File)
		}
	}

	type failure struct{ id, line string }
	var fails []failure
	var id, line string
	for nextFailure(&id, &line) {
		fails = append(fails, failure{id, line})
	}
	sort.Slice(fails, func(i, j int) bool { return fails[i].id < fails[j].id })
	var buf strings.Builder
	for i, fl := range fails {
		if i > 0 && fl.id == fails[i-1].id {
			if fl.line != fails[i-1].line {
				return fmt.Errorf("clip %q failed twice with different errors", fl.id)
			}
			continue
		}
		buf.WriteString(fl.line)
		ix.ClipsFailed++
	}
	if ix.ClipsOK+ix.ClipsFailed != ix.ClipsTotal {
		return fmt.Errorf("shards hold %d clips and %d failed, but the input has %d: not writing %s",
			ix.ClipsOK, ix.ClipsFailed, ix.ClipsTotal, shard.IndexFile)
	}
	if err := writeFile(ctx, f.Out, shard.FailuresFile, strings.NewReader(buf.String())); err != nil {
		return err
	}
	b, err := json.MarshalIndent(&ix, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(ctx, f.Out, shard.IndexFile, bytes.NewReader(append(b, '\n')))
}

// writeFile writes dir/name on a Beam filesystem whole or not at all, and
// overwrites an earlier copy (a retried bundle writes the same bytes). On local
// disk it writes a uniquely named temp file, fsyncs it and renames it (two
// attempts of a bundle running at once never interleave); object stores
// (gs://, s3://) make an object visible only when its upload completes.
func writeFile(ctx context.Context, dir, name string, r io.Reader) error {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return err
	}
	defer fs.Close()
	final := join(dir, name)
	local := !strings.Contains(dir, "://")
	path := final
	if local {
		var rnd [8]byte
		rand.Read(rnd[:])
		path = final + "." + hex.EncodeToString(rnd[:]) + shard.TempExt
	}
	w, err := fs.OpenWrite(ctx, path)
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	_, err = io.Copy(w, r)
	if s, ok := w.(interface{ Sync() error }); ok && err == nil {
		err = s.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && local {
		err = filesystem.Rename(ctx, fs, path, final)
	}
	if err != nil {
		if local {
			os.Remove(path)
		}
		return fmt.Errorf("write %s: %w", final, err)
	}
	return nil
}
