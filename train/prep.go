package train

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/ingest"
)

// Prep is what a method's Prepare hook may use: the run's data, to train
// other runs on and to embed with them.
type Prep struct {
	ctx context.Context
	t   *trainer
}

// Config is the run's configuration.
func (p *Prep) Config() Config { return p.t.cfg.Clone() }

// Progress writes a progress line (when the run reports progress).
func (p *Prep) Progress(format string, a ...any) { p.t.progress(format, a...) }

// Train makes sure the run cfg.Out, trained on this run's data, is done:
// a folder with result.json whose config.json is cfg (up to how it loads
// data) is taken as it is, one stopped before its result or trained for
// fewer epochs is resumed, an empty one trained. A folder trained with other settings or
// on other data is an error naming them. Progress lines of the run are
// prefixed with its folder's name.
func (p *Prep) Train(cfg Config) (*Result, error) {
	cfg.Shards = p.t.cfg.Shards
	if p.t.cfg.Progress != nil {
		cfg.Progress = &prefixWriter{w: p.t.cfg.Progress, prefix: filepath.Base(cfg.Out) + ": "}
	}
	if saved, err := LoadConfig(cfg.Out); err == nil {
		if err := checkResume(saved, cfg); err != nil {
			return nil, err
		}
		if saved.TrainedOn != nil {
			if err := saved.TrainedOn.compatible(identityOf(p.t.src), true); err != nil {
				return nil, configErrorf("%s: %w", cfg.Out, err)
			}
		}
		if res, err := ReadResult(cfg.Out); err == nil && saved.Epochs == cfg.Epochs {
			return res, nil
		}
		cfg.Resume = true // stopped before its result, or to train more epochs
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return RunExamples(p.ctx, cfg, p.t.src)
}

// Embeddings returns the embeddings [2][E_m] by clip id of the trained run
// in runDir (its best checkpoint) on one split of this run's data.
func (p *Prep) Embeddings(runDir, split string) (map[string][2][]float64, error) {
	r, err := openRun(runDir, p.t.src, nil)
	if err != nil {
		return nil, err
	}
	out := map[string][2][]float64{}
	_, err = r.forEach(p.ctx, r.splits[split], &accum{s: &r.m.spec}, func(id string, _ int, _ []float64, emb [2][]float64) {
		out[id] = [2][]float64{append([]float64(nil), emb[0]...), append([]float64(nil), emb[1]...)}
	})
	return out, err
}

// TrainEmbeddings runs the evaluation graph with the model's current
// weights over n rows of the train split (all of them when n ≤ 0 or more
// than there are), drawn in an order fixed by the run's seed, the epoch and
// stream, and calls visit with each row's label and embeddings (valid
// during the call).
func (e *Epoch) TrainEmbeddings(n int, stream uint64, visit func(label int, emb [2][]float64)) error {
	rows := append([]int(nil), e.t.splits[ingest.SplitTrain]...)
	r := rand.New(rand.NewPCG(uint64(e.Seed)^uint64(e.Index)<<32, stream))
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	if n > 0 && n < len(rows) {
		rows = rows[:n]
	}
	acc := &accum{s: &e.t.m.spec}
	_, err := e.t.forEach(e.ctx, rows, acc, func(_ string, label int, _ []float64, emb [2][]float64) { visit(label, emb) })
	return err
}

// prefixWriter starts every write (a progress line) with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
