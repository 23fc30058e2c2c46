package compare

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/atomicfile"
	"github.com/avbalance/avbalance/train"
)

// Stat is a mean and a sample standard deviation (0 for one value) over
// seeds; N is 0 where the value does not apply (e.g. the video encoder's
// linear probe of an audio-only model).
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// NewStat is the mean and sample standard deviation of xs.
func NewStat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if len(xs) == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			s.Std += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(len(xs)-1))
	}
	return s
}

// Format renders "mean ± std" with prec decimals (the mean alone for one
// seed, "–" where the value does not apply).
func (s Stat) Format(prec int) string {
	switch {
	case s.N == 0:
		return "–"
	case s.N == 1:
		return strconv.FormatFloat(s.Mean, 'f', prec, 64)
	}
	return strconv.FormatFloat(s.Mean, 'f', prec, 64) + " ± " + strconv.FormatFloat(s.Std, 'f', prec, 64)
}

// String is Format(2).
func (s Stat) String() string { return s.Format(2) }

// Column is one measured column of the table.
type Column struct {
	Key    string // CSV and results.json name
	Header string // table.md header
	Prec   int    // decimals shown
	// Value is the run's value; false where it does not apply.
	Value func(r *RunResult) (float64, bool)
}

func always(f func(r *RunResult) float64) func(*RunResult) (float64, bool) {
	return func(r *RunResult) (float64, bool) { return f(r), true }
}

func realUse(f func(u *train.RealUse) float64) func(*RunResult) (float64, bool) {
	return func(r *RunResult) (float64, bool) {
		if r.Test.RealUse == nil {
			return 0, false
		}
		return f(r.Test.RealUse), true
	}
}

func linearProbe(m int) func(*RunResult) (float64, bool) {
	return func(r *RunResult) (float64, bool) {
		if r.LinearProbe == nil {
			return 0, false
		}
		v := [2]*float64{r.LinearProbe.Audio, r.LinearProbe.Video}[m]
		if v == nil {
			return 0, false
		}
		return *v, true
	}
}

// Columns are the table's measured columns, in order: test metrics of each
// run's selected epoch, real use and cost.
var Columns = []Column{
	{"test_acc", "test acc", 3, always(func(r *RunResult) float64 { return r.Test.Accuracy })},
	{"macro_f1", "macro-F1", 3, always(func(r *RunResult) float64 { return r.Test.MacroF1 })},
	{"map", "mAP", 3, always(func(r *RunResult) float64 { return r.Test.MAP })},
	{"audio_share", "audio share", 2, always(func(r *RunResult) float64 { return r.Test.AudioShare })},
	{"video_share", "video share", 2, always(func(r *RunResult) float64 { return r.Test.VideoShare })},
	{"audio_probe", "audio probe", 3, always(func(r *RunResult) float64 { return r.Test.ProbeAudio })},
	{"video_probe", "video probe", 3, always(func(r *RunResult) float64 { return r.Test.ProbeVideo })},
	{"acc_without_audio", "acc w/o audio", 3, realUse(func(u *train.RealUse) float64 { return u.AblateAudio })},
	{"acc_without_video", "acc w/o video", 3, realUse(func(u *train.RealUse) float64 { return u.AblateVideo })},
	{"shapley_audio", "Shapley audio", 3, realUse(func(u *train.RealUse) float64 { return u.ShapleyAudio })},
	{"shapley_video", "Shapley video", 3, realUse(func(u *train.RealUse) float64 { return u.ShapleyVideo })},
	{"linprobe_audio", "lin. probe audio", 3, linearProbe(0)},
	{"linprobe_video", "lin. probe video", 3, linearProbe(1)},
	{"seconds", "seconds", 1, always(func(r *RunResult) float64 { return r.Seconds })},
	{"cpu_seconds", "CPU-s", 1, always(func(r *RunResult) float64 { return r.CPUSeconds })},
}

// Row is one method's line of the table: a Stat per Column.
type Row struct {
	Method train.Mode      `json:"method"`
	Seeds  int             `json:"seeds"`
	Stats  map[string]Stat `json:"stats"` // by Column.Key
}

// aggregate fills Rows and Checks from Runs.
func (r *Report) aggregate() {
	r.Rows = nil
	for _, m := range r.Config.Methods {
		row := Row{Method: m, Stats: map[string]Stat{}}
		runs := r.MethodRuns(m)
		row.Seeds = len(runs)
		for _, c := range Columns {
			var xs []float64
			for _, run := range runs {
				if v, ok := c.Value(run); ok {
					xs = append(xs, v)
				}
			}
			row.Stats[c.Key] = NewStat(xs)
		}
		r.Rows = append(r.Rows, row)
	}
	r.Checks = nil
	if r.Config.Checks != nil {
		r.Checks = r.Config.Checks(r)
	}
}

// MethodRuns are the runs of method, by seed.
func (r *Report) MethodRuns(method train.Mode) []*RunResult {
	var out []*RunResult
	for _, run := range r.Runs {
		if run.Method == method {
			out = append(out, run)
		}
	}
	return out
}

// Run is the run of method with seed (nil when there is none).
func (r *Report) Run(method train.Mode, seed ingest.Seed) *RunResult {
	for _, run := range r.Runs {
		if run.Method == method && run.Seed == seed {
			return run
		}
	}
	return nil
}

// Stat is the Stat of Column key in method's row (N 0 when there is none).
func (r *Report) Stat(method train.Mode, key string) Stat {
	for _, row := range r.Rows {
		if row.Method == method {
			return row.Stats[key]
		}
	}
	return Stat{}
}

// Header are the table's column headers: "method" and the Columns.
func Header() []string {
	h := []string{"method"}
	for _, c := range Columns {
		h = append(h, c.Header)
	}
	return h
}

// Cells renders Rows as cells under Header.
func (r *Report) Cells() [][]string {
	var out [][]string
	for _, row := range r.Rows {
		cells := []string{string(row.Method)}
		for _, c := range Columns {
			cells = append(cells, row.Stats[c.Key].Format(c.Prec))
		}
		out = append(out, cells)
	}
	return out
}

// Setup are the lines saying what the table was measured on and how.
func (r *Report) Setup() []string {
	p, c := r.Protocol, &r.Config
	tc := c.Train
	seeds := make([]string, 0, c.Seeds)
	for _, s := range c.SeedList() {
		seeds = append(seeds, s.String())
	}
	lines := []string{
		fmt.Sprintf("shards: %s — dataset %s, preset %s, %d classes; rows %s", p.Shards, p.Dataset, p.Preset, len(p.Labels), p.splitsText()),
		"split: " + p.SplitPolicy,
		"model selection: " + p.Selection,
		fmt.Sprintf("seeds: %s — each sets initialisation, shuffling and a method's noise; the split is the shards' own", strings.Join(seeds, ", ")),
		fmt.Sprintf("training: %s encoders (embedding %d), %s head, %s lr %g, batch %d, %d epochs; shares: %s, target audio %g / video %g",
			tc.Model, tc.Embed, tc.Head, tc.Optimizer, tc.LR, tc.Batch, tc.Epochs, tc.ShareDefinition(), tc.Target[0], tc.Target[1]),
	}
	if s := c.paramsText(); s != "" {
		lines = append(lines, "per method: "+s)
	}
	for _, m := range c.Methods {
		runs := r.MethodRuns(m)
		admitted, rule := 0, false
		for _, run := range runs {
			if run.Admitted != nil {
				rule = true
				if *run.Admitted {
					admitted++
				}
			}
		}
		if rule {
			lines = append(lines, fmt.Sprintf("%s: the selected epoch met the method's admission rule on %d of %d seeds (%s)",
				m, admitted, len(runs), runs[0].Selection))
		}
	}
	return append(lines, c.Notes...)
}

// Table renders the report as markdown: the setup, the table (aligned, so
// it reads as text too), the checks and what the columns mean.
func (r *Report) Table() string {
	var b strings.Builder
	title := r.Config.Title
	if title == "" {
		title = "avbalance compare"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	for _, l := range r.Setup() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	n := len(r.Config.SeedList())
	if n > 1 {
		fmt.Fprintf(&b, "\nTest split; mean ± sample std over %d seeds.\n\n", n)
	} else {
		b.WriteString("\nTest split; 1 seed.\n\n")
	}
	rows := append([][]string{Header()}, r.Cells()...)
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteByte('\n')
	}
	line(rows[0])
	rule := make([]string, len(width))
	for i, w := range width {
		rule[i] = strings.Repeat("-", w)
		if i > 0 {
			rule[i] = rule[i][:w-1] + ":"
		}
	}
	line(rule)
	for _, row := range rows[1:] {
		line(row)
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n")
		for _, c := range r.Checks {
			mark := "yes"
			if !c.Pass {
				mark = "NO "
			}
			fmt.Fprintf(&b, "- [%s] %s: %s\n", mark, c.Name, c.Detail)
		}
	}
	b.WriteString("\n" + columnsNote + "\n")
	return b.String()
}

// columnsNote says what the columns measure.
const columnsNote = `Shares: mean per-clip attribution shares of the embeddings. Probe: the fusion head's accuracy with
the other modality's embedding set to zero. acc w/o M: accuracy with M's embedding replaced by its
train mean. Shapley M: M's exact two-player Shapley contribution to accuracy (the pair sums to
accuracy minus the constant prediction's). lin. probe M: test accuracy of a fresh linear classifier
fitted on the frozen M encoder's train embeddings. seconds / CPU-s: time spent training, evaluating
and attributing the run, over interruptions (CPU shared equally among runs trained at once).`

// CSV renders the table as CSV: method, seeds, then KEY_mean and KEY_std
// for every Column (empty where a value does not apply).
func (r *Report) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"method", "seeds"}
	for _, c := range Columns {
		head = append(head, c.Key+"_mean", c.Key+"_std")
	}
	w.Write(head)
	for _, row := range r.Rows {
		rec := []string{string(row.Method), strconv.Itoa(row.Seeds)}
		for _, c := range Columns {
			s := row.Stats[c.Key]
			if s.N == 0 {
				rec = append(rec, "", "")
				continue
			}
			rec = append(rec, strconv.FormatFloat(s.Mean, 'g', 10, 64), strconv.FormatFloat(s.Std, 'g', 10, 64))
		}
		w.Write(rec)
	}
	w.Flush()
	return b.Bytes()
}

func (r *Report) writeResults() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return atomicfile.Write(filepath.Join(r.Config.Out, ResultsFile), append(b, '\n'))
}
