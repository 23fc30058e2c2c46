package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/avbalance/avbalance/ingest"
)

// errStop ends eachBatch early without an error.
var errStop = errors.New("stop")

// eachBatch is the one batch loop of training, evaluation and attribution:
// it streams rows through the loader and calls f for every batch, in order.
// f returning errStop ends the loop early without an error. When ctx ends
// before every row was seen, eachBatch returns ctx's error, so a pass that
// was cut short is never taken for a whole one.
func (t *trainer) eachBatch(ctx context.Context, rows []int, f func(*batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	ch := t.ld.stream(ctx, rows)
	defer func() {
		cancel()
		for b := range ch {
			t.ld.release(b)
		}
	}()
	seen := 0
	for b := range ch {
		err := b.err
		if err == nil {
			err = f(b)
		}
		seen += b.n
		t.ld.release(b)
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if seen < len(rows) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("train: the loader stopped after %d of %d rows", seen, len(rows))
	}
	return nil
}

// trainPass runs the optimizer over the shuffled train split.
func (t *trainer) trainPass(ctx context.Context, epoch int) (Metrics, error) {
	acc := &accum{s: &t.m.spec, sumOn: true, batchBaseline: true}
	s := &Step{Epoch: epoch, Params: t.tn.paramInfo(), n: t.tn}
	steps := 0
	err := t.eachBatch(ctx, shuffled(t.splits[ingest.SplitTrain], t.cfg.Seed, epoch), func(b *batch) error {
		if err := t.step(s, b, acc); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if steps++; t.cfg.MaxSteps > 0 && steps >= t.cfg.MaxSteps {
			return errStop
		}
		return nil
	})
	if err != nil {
		return Metrics{}, err
	}
	t.trainMean = acc.means()
	m := acc.metrics(epoch, ingest.SplitTrain, 0)
	t.method.Report(&m)
	return m, nil
}

// step is one optimizer step on batch b: the method sets its inputs, the
// graph runs forward and backward, the method may modulate the gradients,
// and the optimizer updates the weights.
func (t *trainer) step(s *Step, b *batch, acc *accum) error {
	n := t.tn
	s.N, s.Labels, s.IDs = b.n, b.labels, b.ids
	if err := t.method.BeforeStep(s); err != nil {
		return fmt.Errorf("train: %s: %w", t.cfg.Mode, err)
	}
	if err := n.feed(inputs{audio: b.audio, frames: b.frames, labels: b.labels, n: b.n}); err != nil {
		return err
	}
	if err := n.run(); err != nil {
		return err
	}
	if loss := values64(n.loss); len(loss) == 1 && (math.IsNaN(loss[0]) || math.IsInf(loss[0], 0)) {
		return configErrorf("train: the %s loss is %g in epoch %d: %w; lower --lr (attr-reg: --lambda or --lambda-max)",
			t.cfg.Mode, loss[0], s.Epoch+1, ErrDiverged)
	}
	s.Emb = [2][]float64{values64(n.emb[0]), values64(n.emb[1])}
	s.Logits = values64(n.logits)
	s.Head = t.m.attrHead()
	acc.add(s.Head, s.Logits, s.Emb, b.labels, b.n)
	if s.Grads == nil {
		s.Grads = make([][]float32, len(n.grads))
	}
	for i, g := range n.grads {
		s.Grads[i] = g.Value().Data().([]float32)
	}
	n.replicaGrads(s)
	if err := t.method.AfterBackward(s); err != nil {
		return fmt.Errorf("train: %s: %w", t.cfg.Mode, err)
	}
	foldReplicas(s)
	t.opt.step(n.used, s.Grads)
	return nil
}

// replicaGrads points s.ReplicaGrads at the gradients through the graph's
// encoder replicas.
func (n *net) replicaGrads(s *Step) {
	if len(n.replicas) == 0 {
		return
	}
	if s.ReplicaGrads == nil {
		s.ReplicaGrads = make([][][]float32, len(n.replicas))
	}
	for r, rep := range n.replicas {
		if s.ReplicaGrads[r] == nil {
			s.ReplicaGrads[r] = make([][]float32, len(n.used))
		}
		for j, i := range rep.at {
			s.ReplicaGrads[r][i] = rep.grads[j].Value().Data().([]float32)
		}
	}
}

// foldReplicas adds the replica gradients AfterBackward left to s.Grads:
// a replica shares its encoder's weights.
func foldReplicas(s *Step) { addReplicas(s.Grads, s.ReplicaGrads) }

// addReplicas adds every non-nil replica gradient to grads.
func addReplicas[F float32 | float64](grads [][]F, replicas [][][]F) {
	for _, rg := range replicas {
		for i, g := range rg {
			for j, v := range g {
				grads[i][j] += v
			}
		}
	}
}

// evalPass computes metrics of rows with the forward-only graph; real use
// is measured against t.trainMean when it is known.
func (t *trainer) evalPass(ctx context.Context, rows []int, epoch int, split string) (Metrics, error) {
	return t.evalVisit(ctx, rows, epoch, split, nil)
}

// evalVisit is evalPass with a visitor of every row (see forEach).
func (t *trainer) evalVisit(ctx context.Context, rows []int, epoch int, split string, visit visitor) (Metrics, error) {
	begin := time.Now()
	m, err := t.forEach(ctx, rows, &accum{s: &t.m.spec, mean: t.trainMean}, visit)
	m.Epoch, m.Split, m.Seconds = epoch, split, time.Since(begin).Seconds()
	return m, err
}

// measureTrainMean sets t.trainMean to the mean embeddings of the train
// split under the current weights (nil without train rows); visit, if not
// nil, sees every train row.
func (t *trainer) measureTrainMean(ctx context.Context, visit visitor) error {
	t.trainMean = [2][]float64{}
	rows := t.splits[ingest.SplitTrain]
	if len(rows) == 0 {
		return nil
	}
	acc := &accum{s: &t.m.spec, sumOn: true}
	if _, err := t.forEach(ctx, rows, acc, visit); err != nil {
		return err
	}
	t.trainMean = acc.means()
	return nil
}

// visitor sees one real row of a pass: its clip id, label, logits [K] and
// embeddings (nil for an unused modality), valid during the call.
type visitor func(id string, label int, logits []float64, emb [2][]float64)

// forEach runs the eval graph over rows, accumulating metrics in acc; visit
// (if not nil) sees every real row's clip id, label, logits and embeddings.
func (t *trainer) forEach(ctx context.Context, rows []int, acc *accum, visit visitor) (Metrics, error) {
	if err := t.en.syncBN(); err != nil {
		return Metrics{}, err
	}
	head := t.m.attrHead()
	k := t.m.spec.classes
	err := t.eachBatch(ctx, rows, func(b *batch) error {
		if err := t.en.feed(inputs{audio: b.audio, frames: b.frames, labels: b.labels, n: b.n}); err != nil {
			return err
		}
		if err := t.en.run(); err != nil {
			return err
		}
		logits := values64(t.en.logits)
		emb := [2][]float64{values64(t.en.emb[0]), values64(t.en.emb[1])}
		acc.add(head, logits, emb, b.labels, b.n)
		if visit != nil {
			for i := 0; i < b.n; i++ {
				var e [2][]float64
				for m := range e {
					if d := len(emb[m]) / t.batch; d > 0 {
						e[m] = emb[m][i*d : (i+1)*d]
					}
				}
				visit(b.ids[i], b.labels[i], logits[i*k:(i+1)*k], e)
			}
		}
		return nil
	})
	if err != nil {
		return Metrics{}, err
	}
	m := acc.metrics(0, "", 0)
	t.method.Report(&m)
	return m, nil
}
