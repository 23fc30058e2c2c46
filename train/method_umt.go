package train

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/avbalance/avbalance/ingest"
	G "gorgonia.org/gorgonia"
)

// ModeUMT is UMT (method_umt.go).
const ModeUMT Mode = "umt"

// UMTConfig are UMT's hyperparameters and its teachers.
type UMTConfig struct {
	Scale float64 `json:"umt_scale"` // weight of the distillation loss
	// TeacherAudio and TeacherVideo are the run folders of trained
	// unimodal runs (modes audio and video) on the same data; empty: the
	// mode trains one into RUNDIR/teacher-audio (teacher-video) first.
	TeacherAudio string `json:"teacher_audio"`
	TeacherVideo string `json:"teacher_video"`
	// TeacherEpochs are the epochs of a teacher the mode trains (0: the
	// run's own when the teacher is first trained).
	TeacherEpochs int `json:"teacher_epochs"`
}

// Flags implements MethodConfig.
func (c *UMTConfig) Flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Scale, "umt-scale", c.Scale, "umt: weight of the feature-distillation MSE")
	fs.StringVar(&c.TeacherAudio, "teacher-audio", c.TeacherAudio, "umt: `run` folder of a trained --mode audio run on the same shards (default: train one in RUNDIR/teacher-audio)")
	fs.StringVar(&c.TeacherVideo, "teacher-video", c.TeacherVideo, "umt: `run` folder of a trained --mode video run on the same shards (default: train one in RUNDIR/teacher-video)")
	fs.IntVar(&c.TeacherEpochs, "teacher-epochs", c.TeacherEpochs, "umt: epochs of the teachers it trains (0: --epochs)")
}

// Validate implements MethodConfig.
func (c *UMTConfig) Validate() error {
	if !(c.Scale >= 0) {
		return fmt.Errorf("umt-scale %g: use a value ≥ 0 (UMT uses 10)", c.Scale)
	}
	if c.TeacherEpochs < 0 {
		return fmt.Errorf("teacher-epochs %d: use 0 (the run's epochs) or more", c.TeacherEpochs)
	}
	return nil
}

func init() {
	RegisterMethod(MethodInfo{Mode: ModeUMT, Uses: Both,
		Summary:   "uni-modal teachers: each encoder distils the embeddings of a trained unimodal model (Du et al., ICML 2023)",
		NewConfig: func() MethodConfig { return &UMTConfig{Scale: 10} },
		New: func(cfg *Config) (Method, error) {
			return &umt{cfg: *cfg.Method.(*UMTConfig)}, nil
		}})
}

// umt is UMT, uni-modal teachers (Du et al., "On Uni-Modal Feature
// Learning in Supervised Multi-Modal Learning", ICML 2023; "Improving
// Multi-Modal Learning with Uni-Modal Teachers", arXiv 2106.11059).
//
// Matched, from GeWu-Lab/BalanceBenchmark balancemm/trainer/UMT_trainer.py
// (the authors' own code is not public): the teachers are unimodal models
// of the same architecture trained on the same data (BalanceBenchmark
// loads the unimodal trainer's runs); the loss is the fusion
// cross-entropy plus scaling·Σ_m MSE(teacher_m(x), e_m(x)) on the encoders'
// embeddings, MSE the mean over the batch and the embedding, scaling 10;
// the teachers are frozen.
//
// Deviations: the teachers' embeddings are computed once per run over
// the train split with their best checkpoints in eval mode and looked up
// per clip (the reference runs the teachers on every batch, without
// switching them to eval mode — the same values for the small model,
// which has no batch norm). Teachers the mode trains itself use the run's
// settings with mode audio or video (and TeacherEpochs); a teacher folder
// that was trained with other settings is an error, one that was
// interrupted resumes.
type umt struct {
	NoHooks
	cfg     UMTConfig
	teacher [2]map[string][]float64
	in      [2]*G.Node // teacher embeddings [B,E_m]
	dims    [2]int
	buf     [2][]float64
}

func (m *umt) Loss(g *Graph) (*G.Node, error) {
	var mse *G.Node
	for mm := range m.in {
		d := g.Emb[mm].Shape()[1]
		m.dims[mm] = d
		m.in[mm] = g.Input(fmt.Sprintf("umt.teacher%d", mm), g.Batch(), d)
		diff := must(G.Sub(m.in[mm], g.Emb[mm]))
		row := must(G.Sum(must(G.Square(diff)), 1)) // [B]
		t := must(G.Mul(g.Mean(row), g.Scalar(1/float64(d))))
		if mse == nil {
			mse = t
		} else {
			mse = must(G.Add(mse, t))
		}
	}
	return must(G.Mul(g.Scalar(m.cfg.Scale), mse)), nil
}

// Prepare trains the teachers the run does not name and looks up their
// embeddings of the train clips.
func (m *umt) Prepare(p *Prep) error {
	cfg := p.Config()
	named := [2]string{m.cfg.TeacherAudio, m.cfg.TeacherVideo}
	for mm, mode := range []Mode{ModeAudio, ModeVideo} {
		dir := named[mm]
		if dir == "" {
			tc := cfg.Clone()
			if err := tc.SetMode(mode); err != nil {
				return err
			}
			tc.Head, tc.Out, tc.Resume = HeadConcat, filepath.Join(cfg.Out, "teacher-"+string(mode)), false
			if m.cfg.TeacherEpochs > 0 {
				tc.Epochs = m.cfg.TeacherEpochs
			} else if saved, err := LoadConfig(tc.Out); err == nil {
				tc.Epochs = saved.Epochs // a resume with more --epochs keeps its teachers
			}
			if _, err := p.Train(tc); err != nil {
				return fmt.Errorf("teacher %s: %w", mode, err)
			}
			dir = tc.Out
		}
		tcfg, err := LoadConfig(dir)
		if err != nil {
			return fmt.Errorf("teacher %s: %w", mode, err)
		}
		if tcfg.Mode != mode {
			return fmt.Errorf("teacher %s: %s is a --mode %s run; name a --mode %s run", mode, dir, tcfg.Mode, mode)
		}
		if tcfg.Model != cfg.Model || tcfg.Embed != cfg.Embed {
			return fmt.Errorf("teacher %s: %s has --model %s --embed %d, the run --model %s --embed %d; they must match",
				mode, dir, tcfg.Model, tcfg.Embed, cfg.Model, cfg.Embed)
		}
		emb, err := p.Embeddings(dir, ingest.SplitTrain)
		if err != nil {
			return fmt.Errorf("teacher %s: %w", mode, err)
		}
		m.teacher[mm] = map[string][]float64{}
		for id, e := range emb {
			m.teacher[mm][id] = e[mm]
		}
		p.Progress("umt: teacher %s %s, %d train clips\n", mode, dir, len(emb))
	}
	return nil
}

func (m *umt) BeforeStep(s *Step) error {
	for mm := range m.in {
		d := m.dims[mm]
		if m.buf[mm] == nil {
			m.buf[mm] = make([]float64, len(s.Labels)*d)
		}
		clear(m.buf[mm])
		for i := 0; i < s.N; i++ {
			e, ok := m.teacher[mm][s.IDs[i]]
			if !ok {
				return fmt.Errorf("clip %s has no embedding from the %s teacher: was it trained on other shards?",
					s.IDs[i], []string{"audio", "video"}[mm])
			}
			copy(m.buf[mm][i*d:], e)
		}
		if err := s.Set(m.in[mm], m.buf[mm]); err != nil {
			return err
		}
	}
	return nil
}
