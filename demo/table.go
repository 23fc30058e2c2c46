package demo

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/avbalance/avbalance/train"
)

// Check is one measured statement about the imbalance the demo is built to show.
type Check struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
	Pass   bool   `json:"pass"`
}

func newStat(xs []float64) Stat {
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

// aggregate fills Rows (mean ± std over seeds per mode) and Checks.
func (r *Report) aggregate() {
	r.Rows = nil
	for i, mode := range r.Config.Modes {
		var acc, mAP, sa, sv, pa, pv, sec []float64
		for _, s := range r.Seeds {
			m := s.Runs[i]
			acc, mAP = append(acc, m.Test.Accuracy), append(mAP, m.Test.MAP)
			sa, sv = append(sa, m.Test.AudioShare), append(sv, m.Test.VideoShare)
			pa, pv = append(pa, m.Test.ProbeAudio), append(pv, m.Test.ProbeVideo)
			sec = append(sec, m.Seconds)
		}
		r.Rows = append(r.Rows, Row{Mode: mode, Accuracy: newStat(acc), MAP: newStat(mAP), AudioShare: newStat(sa),
			VideoShare: newStat(sv), ProbeAudio: newStat(pa), ProbeVideo: newStat(pv), Seconds: newStat(sec)})
	}
	r.Checks = r.checks()
}

// Row returns the row of mode (nil when the mode did not run).
func (r *Report) Row(mode train.Mode) *Row {
	for i := range r.Rows {
		if r.Rows[i].Mode == mode {
			return &r.Rows[i]
		}
	}
	return nil
}

// checks states the phenomenon of the issue in numbers (means over seeds); a check whose
// modes did not run is left out.
func (r *Report) checks() []Check {
	var out []Check
	video, concat, attr := r.Row(train.ModeVideo), r.Row(train.ModeConcat), r.Row(train.ModeAttrReg)
	target := r.Config.Train.Target[1]
	if concat != nil {
		out = append(out, Check{Name: "concat gives video a minor attribution share",
			Detail: fmt.Sprintf("concat video share %s (< 0.35)", concat.VideoShare.fmt(2)),
			Pass:   concat.VideoShare.Mean < 0.35})
	}
	if concat != nil && video != nil {
		out = append(out, Check{Name: "concat under-uses video",
			Detail: fmt.Sprintf("concat video probe acc %s vs video-only acc %s (gap > 0.1)", concat.ProbeVideo.fmt(3), video.Accuracy.fmt(3)),
			Pass:   video.Accuracy.Mean-concat.ProbeVideo.Mean > 0.1})
	}
	if concat != nil && attr != nil {
		out = append(out, Check{Name: "attr-reg moves the shares toward the target",
			Detail: fmt.Sprintf("video share %s → %s (target %.2f)", concat.VideoShare.fmt(2), attr.VideoShare.fmt(2), target),
			Pass:   math.Abs(attr.VideoShare.Mean-target) < math.Abs(concat.VideoShare.Mean-target)})
		out = append(out, Check{Name: "attr-reg beats concat on test accuracy",
			Detail: fmt.Sprintf("test acc %s vs concat %s", attr.Accuracy.fmt(3), concat.Accuracy.fmt(3)),
			Pass:   attr.Accuracy.Mean > concat.Accuracy.Mean})
	}
	return out
}

// fmt renders "mean ± std" (just the mean for one seed).
func (s Stat) fmt(prec int) string {
	if s.N > 1 {
		return strconv.FormatFloat(s.Mean, 'f', prec, 64) + " ± " + strconv.FormatFloat(s.Std, 'f', prec, 64)
	}
	return strconv.FormatFloat(s.Mean, 'f', prec, 64)
}

// TableHeader are the table's columns.
var TableHeader = []string{"mode", "test acc", "mAP", "audio share", "video share", "audio probe", "video probe", "seconds"}

// TableRows renders Rows as cells under TableHeader.
func (r *Report) TableRows() [][]string {
	var out [][]string
	for _, row := range r.Rows {
		out = append(out, []string{string(row.Mode), row.Accuracy.fmt(3), row.MAP.fmt(3), row.AudioShare.fmt(2),
			row.VideoShare.fmt(2), row.ProbeAudio.fmt(3), row.ProbeVideo.fmt(3), row.Seconds.fmt(1)})
	}
	return out
}

// Table renders the results as an aligned text table followed by the checks.
func (r *Report) Table() string {
	rows := append([][]string{TableHeader}, r.TableRows()...)
	width := make([]int, len(TableHeader))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	if n := len(r.Seeds); n > 1 {
		fmt.Fprintf(&b, "test split, best validation epoch; mean ± std over %d seeds\n", n)
	} else {
		fmt.Fprintf(&b, "test split, best validation epoch; 1 seed\n")
	}
	for k, row := range rows {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteByte('\n')
		if k == 0 {
			n := 0
			for _, w := range width {
				n += w + 2
			}
			b.WriteString(strings.Repeat("-", n-2) + "\n")
		}
	}
	for _, c := range r.Checks {
		mark := "yes"
		if !c.Pass {
			mark = "NO "
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", mark, c.Name, c.Detail)
	}
	return b.String()
}

func (r *Report) writeJSON() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return os.WriteFile(filepath.Join(r.Config.Out, ResultsFile), append(b, '\n'), 0o644)
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
