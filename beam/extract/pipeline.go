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
	"path/filepath"
	"reflect"
	"runtime"
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
	"github.com/avbalance/avbalance/internal/atomicfile"
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
	register.DoFn3x1[[]byte, func(int, ingest.Clip), func(string, string), error](&readFn{})
	register.DoFn4x1[context.Context, int, func(*ingest.Clip) bool, func(string), error](&shardFn{})
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(*string, *string) bool, error](&finalizeFn{})
	register.Emitter1[string]()
	register.Emitter2[string, string]()
	register.Emitter2[int, ingest.Clip]()
	register.Iter1[ingest.Clip]()
	register.Iter1[string]()
	register.Iter2[string, string]()
}

var (
	clipsOK     = beam.NewCounter("avbalance", "clips_ok")
	clipsFailed = beam.NewCounter("avbalance", "clips_failed")
	shardsDone  = beam.NewCounter("avbalance", "shards_written")
	shardsKept  = beam.NewCounter("avbalance", "shards_kept") // by a resumed job, from an earlier run
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
	job, err := cfg.fingerprint(n)
	if err != nil {
		return err
	}

	s = s.Scope("avbalance-extract")
	clips, rejected := beam.ParDo2(s.Scope("ReadClips"), &readFn{Input: cfg.Input, Total: ix.ClipsTotal, Shards: n}, beam.Impulse(s))
	summaries := beam.ParDo(s.Scope("ExtractShards"), &shardFn{
		Out: cfg.Out, Preset: cfg.Preset, Seed: cfg.Seed, Workers: cfg.Workers, ClipTimeout: cfg.ClipTimeout, Job: job,
	}, beam.GroupByKey(s, clips))
	beam.ParDo0(s.Scope("Finalize"), &finalizeFn{Out: cfg.Out, Index: string(ixJSON)}, beam.Impulse(s),
		beam.SideInput{Input: summaries}, beam.SideInput{Input: rejected})
	return nil
}

// readFn reads the clip list on a worker and emits each clip's descriptor
// keyed by its shard and, as (clip id, failures.jsonl line), the rows the
// reader rejected. Ids that are not valid UTF-8 are escaped as the local
// pipeline stores them (pipeline.EscapeIDs).
type readFn struct {
	Input  ingest.Input `json:"input"`
	Total  int          `json:"total"` // clips + rejected the launcher found
	Shards int          `json:"shards"`
}

func (f *readFn) ProcessElement(_ []byte, emitClip func(int, ingest.Clip), emitFailure func(string, string)) error {
	ds, err := f.Input.Read()
	if err != nil {
		return fmt.Errorf("read clip list on the worker: %w", err)
	}
	if got := len(ds.Clips) + len(ds.Rejected); got != f.Total {
		return fmt.Errorf("the worker reads %d clips, the launcher read %d: are the dataset files the same on every machine?", got, f.Total)
	}
	ds = pipeline.EscapeIDs(ds)
	for _, r := range ds.Rejected {
		line, err := failureLine(shard.Failure{ClipID: r.ClipID, Path: r.Path, Stage: ingest.StageIngest, Error: r.Reason})
		if err != nil {
			return err
		}
		emitFailure(r.ClipID, line)
	}
	for _, c := range ds.Clips {
		emitClip(ShardOf(c.ID, f.Shards), c)
	}
	return nil
}

// shardFn receives one shard's clip descriptors, decodes and extracts them
// (pipeline.ExtractShard: Workers clips at once, rows in clip-id order, the
// local pipeline's per-clip deadline and watchdog), puts the shard file under
// its final name in Out, records the shard's summary in StateDir and emits it
// as JSON. Features never leave the worker. A shard whose recorded summary is
// of the same job and clips, and whose file still has the recorded checksum,
// is kept as it is (a resumed job, or a retried bundle).
type shardFn struct {
	Out         string          `json:"out"`
	Preset      features.Preset `json:"preset"`
	Seed        ingest.Seed     `json:"seed"`
	Workers     int             `json:"workers"`
	ClipTimeout time.Duration   `json:"clip_timeout"`
	Job         string          `json:"job"` // Config.fingerprint
}

func (f *shardFn) ProcessElement(ctx context.Context, idx int, next func(*ingest.Clip) bool, emit func(string)) error {
	var clips []ingest.Clip
	var c ingest.Clip
	for next(&c) {
		clips = append(clips, c)
	}
	clips, err := uniqueClips(idx, clips)
	if err != nil {
		return err
	}
	sum := shardSummary{Index: idx, Job: f.Job}
	if sum.Clips, err = clipsFingerprint(clips); err != nil {
		return err
	}
	kept, err := keptSummary(ctx, f.Out, sum)
	if err != nil {
		return err
	}
	if kept != nil {
		shardsKept.Inc(ctx, 1)
		return f.emit(ctx, kept, emit)
	}
	release, err := shardSlot(ctx, f.Workers)
	if err != nil {
		return err
	}
	res, err := f.extract(ctx, clips, shard.ShardName(idx))
	release()
	if err != nil {
		return err
	}
	sum.ShardResult = *res
	b, err := json.Marshal(&sum)
	if err != nil {
		return err
	}
	if err := writeFile(ctx, join(f.Out, StateDir), summaryName(idx), bytes.NewReader(b)); err != nil {
		return err
	}
	shardsDone.Inc(ctx, 1)
	return f.emit(ctx, &sum, emit)
}

func (f *shardFn) emit(ctx context.Context, s *shardSummary, emit func(string)) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	clipsOK.Inc(ctx, int64(s.Info.Rows))
	clipsFailed.Inc(ctx, int64(len(s.Failures)))
	emit(string(b))
	return nil
}

// slots bounds the shards one worker process extracts at once to
// max(1, CPUs ÷ Workers), whatever number of bundles the runner runs in
// parallel: prism splits a slow bundle and runs the rest of its keys as new
// bundles beside it, Flink and Dataflow run one bundle per slot or thread. So
// the decoders at work match the cores and memory (a shard writer's batch, the
// rows waiting for their turn) does not grow with the number of shards.
var slots struct {
	once sync.Once
	ch   chan struct{}
}

// shardSlot waits for a free slot (or ctx) and returns the function that frees it.
func shardSlot(ctx context.Context, workers int) (release func(), err error) {
	slots.once.Do(func() { slots.ch = make(chan struct{}, max(1, runtime.NumCPU()/max(1, workers))) })
	select {
	case slots.ch <- struct{}{}:
		return func() { <-slots.ch }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// uniqueClips sorts a shard's clips by id. An identical repeat (a runner
// replaying an element) is dropped; two different clips under one id are an error.
func uniqueClips(idx int, clips []ingest.Clip) ([]ingest.Clip, error) {
	sort.SliceStable(clips, func(i, j int) bool { return clips[i].ID < clips[j].ID })
	kept := clips[:0]
	for i, c := range clips {
		if i > 0 && c.ID == clips[i-1].ID {
			if c != clips[i-1] {
				return nil, fmt.Errorf("shard %d: clip %q listed twice with different media or labels", idx, c.ID)
			}
			continue
		}
		kept = append(kept, c)
	}
	return kept, nil
}

// extract writes the shard with pipeline.ExtractShard into a temp folder of
// its own and moves the file to Out under its final name, overwriting what an
// earlier attempt left (the same bytes, or a shard of other clips when the
// input changed). On local disk the temp folder is in Out (a rename, no copy);
// for object stores it is the worker's temp folder and the file is uploaded
// whole.
func (f *shardFn) extract(ctx context.Context, clips []ingest.Clip, name string) (*pipeline.ShardResult, error) {
	tmpRoot, prefix := "", "avbalance-beam-shard-"
	if isLocal(f.Out) {
		tmpRoot, prefix = filepath.Join(f.Out, StateDir), "tmp-"
		if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp(tmpRoot, prefix)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	res, err := pipeline.ExtractShard(ctx, pipeline.ShardConfig{
		Preset: f.Preset, Seed: f.Seed, Workers: f.Workers, ClipTimeout: f.ClipTimeout,
	}, clips, tmp, name)
	if err != nil {
		return nil, err
	}
	if res.Info.File == "" {
		return res, removeFile(ctx, f.Out, name) // no rows: no file, not even a stale one
	}
	if isLocal(f.Out) {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(f.Out, name)); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		return res, atomicfile.SyncDir(f.Out)
	}
	src, err := os.Open(filepath.Join(tmp, name))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return res, writeFile(ctx, f.Out, name, src)
}

// removeFile removes dir/name when it exists.
func removeFile(ctx context.Context, dir, name string) error {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return err
	}
	defer fs.Close()
	found, err := fs.List(ctx, join(dir, name))
	if err != nil || len(found) == 0 {
		return err
	}
	rm, ok := fs.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("%s: cannot remove the stale %s on this filesystem", dir, name)
	}
	return rm.Remove(ctx, join(dir, name))
}

// failureLine is one line of failures.jsonl, exactly as shard.FailureLog writes it.
func failureLine(f shard.Failure) (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("failure of clip %q: %w", f.ClipID, err)
	}
	return string(b) + "\n", nil
}

// finalizeFn runs once all shards are done (its side inputs are complete):
// it writes failures.jsonl sorted by clip id, then index.json, whose presence
// says the folder is complete.
type finalizeFn struct {
	Out   string `json:"out"`
	Index string `json:"index"` // shard.Index JSON without shards and counts
}

func (f *finalizeFn) ProcessElement(ctx context.Context, _ []byte, nextSummary func(*string) bool, nextRejected func(*string, *string) bool) error {
	var ix shard.Index
	if err := json.Unmarshal([]byte(f.Index), &ix); err != nil {
		return err
	}
	type failure struct{ id, line string }
	var fails []failure
	seen := map[int]string{}
	var js string
	for nextSummary(&js) {
		var s shardSummary
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			return err
		}
		if prev, ok := seen[s.Index]; ok {
			if prev != js {
				return fmt.Errorf("shard %d done twice with different results", s.Index)
			}
			continue
		}
		seen[s.Index] = js
		if s.Info.File != "" {
			ix.Shards = append(ix.Shards, s.Info)
			ix.ClipsOK += s.Info.Rows
		}
		for _, fl := range s.Failures {
			line, err := failureLine(fl)
			if err != nil {
				return err
			}
			fails = append(fails, failure{fl.ClipID, line})
		}
	}
	sort.Slice(ix.Shards, func(i, j int) bool { return ix.Shards[i].File < ix.Shards[j].File })

	var id, line string
	for nextRejected(&id, &line) {
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
// disk it writes a uniquely named temp file, fsyncs it, renames it and fsyncs
// the folder (two attempts of a bundle running at once never interleave);
// object stores (gs://, s3://) make an object visible only when its upload
// completes.
func writeFile(ctx context.Context, dir, name string, r io.Reader) error {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return err
	}
	defer fs.Close()
	final := join(dir, name)
	local := isLocal(dir)
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
	if err == nil && local {
		err = atomicfile.SyncDir(dir)
	}
	if err != nil {
		if local {
			os.Remove(path)
		}
		return fmt.Errorf("write %s: %w", final, err)
	}
	return nil
}
