package pipeline

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress receives a count each time a clip is finished. It draws a bar on a
// terminal and otherwise logs one line per Interval: clips/s, ok, failed, ETA.
type Progress struct {
	mu       sync.Mutex
	out      io.Writer
	bar      *progressbar.ProgressBar
	total    int
	ok, fail int
	start    time.Time
	last     time.Time
	interval time.Duration
}

// NewProgress reports to out about a run of total clips. A nil out reports nothing.
// A bar is drawn when out is a terminal; otherwise a log line appears every interval.
func NewProgress(out io.Writer, total int, interval time.Duration) *Progress {
	p := &Progress{out: out, total: total, start: time.Now(), interval: interval}
	p.last = p.start
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription("extract"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("clips"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
		)
	}
	return p
}

// Done records one finished clip.
func (p *Progress) Done(ok bool) {
	if p == nil || p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.ok++
	} else {
		p.fail++
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("extract (ok %d, failed %d)", p.ok, p.fail))
		_ = p.bar.Add(1)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.interval {
		p.last = now
		fmt.Fprintln(p.out, p.line(now))
	}
}

// Finish prints the closing line.
func (p *Progress) Finish() {
	if p == nil || p.out == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
	fmt.Fprintln(p.out, p.line(time.Now()))
}

func (p *Progress) line(now time.Time) string {
	done := p.ok + p.fail
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("extract: %d/%d clips  %.1f clips/s  ok %d  failed %d  ETA %s",
		done, p.total, rate, p.ok, p.fail, eta)
}
