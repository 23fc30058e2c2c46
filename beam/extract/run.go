package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
)

// Summary is what a run did, read back from the index.json it wrote.
type Summary struct {
	Total, OK, Failed int
	Shards            int // shard files in the folder
	Elapsed           time.Duration
}

// UsageError is an error in the job's configuration or output folder, which
// the user must change (the CLI exits 2 for it), as opposed to a failed job.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Run reads the clip list, checks the output folder, builds the pipeline and
// runs it on the named Beam runner ("prism", "universal", "flink", "spark",
// "dataflow", …; the runner's package must be linked in, as beamx does). It
// returns the summary from the index.json the job wrote; a runner that returns
// before the job ends (--async) gives a nil summary.
func Run(ctx context.Context, runner string, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &UsageError{err}
	}
	ds, err := cfg.Input.Read()
	if err != nil {
		return nil, &UsageError{err}
	}
	return RunDataset(ctx, runner, cfg, ds)
}

// RunDataset is Run with the clip list already read (by cfg.Input.Read).
// cfg.Workers 0 means DefaultWorkers(runner). Without cfg.Resume the output
// folder must hold no earlier results; with it, it must hold only results of
// the same job (preset, seed, shard count); its index.json is removed until
// the job writes it again, and the temp files a killed run left in a local
// folder are removed first.
func RunDataset(ctx context.Context, runner string, cfg Config, ds *ingest.Dataset) (*Summary, error) {
	start := time.Now()
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers(runner)
	}
	if err := cfg.Validate(); err != nil {
		return nil, &UsageError{err}
	}
	if cfg.Resume {
		job, err := cfg.fingerprint(cfg.ShardCount(len(ds.Clips)))
		if err != nil {
			return nil, err
		}
		if err := checkResumable(ctx, cfg.Out, job); err != nil {
			return nil, &UsageError{err}
		}
		// index.json says the folder is complete; the job writes it again when it is.
		if err := removeFile(ctx, cfg.Out, shard.IndexFile); err != nil {
			return nil, err
		}
	} else if err := CheckEmpty(ctx, cfg.Out); err != nil {
		return nil, &UsageError{err}
	}
	if err := cleanLocalTemp(cfg.Out); err != nil {
		return nil, err
	}
	p, s := beam.NewPipelineWithRoot()
	if err := Build(s, cfg, ds); err != nil {
		return nil, err
	}
	if _, err := beam.Run(ctx, runner, p); err != nil {
		return nil, err
	}
	ix, err := readIndex(ctx, cfg.Out)
	if err != nil {
		return nil, nil // an asynchronous submission: the job is still running
	}
	return &Summary{Total: ix.ClipsTotal, OK: ix.ClipsOK, Failed: ix.ClipsFailed, Shards: len(ix.Shards),
		Elapsed: time.Since(start)}, nil
}

// CheckEmpty returns an error when dir already holds shards, index.json,
// failures.jsonl or shard summaries: a job writes into a folder of its own
// unless it resumes.
func CheckEmpty(ctx context.Context, dir string) error {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return err
	}
	defer fs.Close()
	for _, pat := range []string{"shard-*" + shard.Ext, shard.IndexFile, shard.FailuresFile, StateDir + "/shard-*.json"} {
		found, err := fs.List(ctx, join(dir, pat))
		if err != nil {
			return fmt.Errorf("check %s: %w", dir, err)
		}
		if len(found) > 0 {
			return fmt.Errorf("%s already holds results of an earlier run (%s): use --resume to continue it, or choose an empty --out", dir, found[0])
		}
	}
	return nil
}

func readIndex(ctx context.Context, dir string) (*shard.Index, error) {
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	b, err := filesystem.Read(ctx, fs, join(dir, shard.IndexFile))
	if err != nil {
		return nil, err
	}
	var ix shard.Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, err
	}
	return &ix, nil
}
