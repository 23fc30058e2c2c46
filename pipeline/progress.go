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
// terminal and otherwise logs one line per interval: clips/s, ok, failed, ETA. The
// line (or the bar) comes every interval even while no clip finishes, so a run
// waiting on slow or stuck clips still shows it is alive.
type Progress struct {
	mu       sync.Mutex
	out      io.Writer
	bar      *progressbar.ProgressBar
	total    int
	ok, fail int
	start    time.Time
	last     time.Time
	interval time.Duration
	stop     chan struct{} // closed by Finish: ends the ticker
	finished bool
}

// NewProgress reports to out about a run of total clips. A nil out reports nothing.
// A bar is drawn when out is a terminal; otherwise a log line appears every interval.
// Call Finish at the end.
func NewProgress(out io.Writer, total int, interval time.Duration) *Progress {
	p := &Progress{out: out, total: total, start: time.Now(), interval: interval, stop: make(chan struct{})}
	p.last = p.start
	if out != nil && interval > 0 {
		go p.tick()
	}
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

// tick reports every interval in which Done reported nothing, until Finish.
func (p *Progress) tick() {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			if p.bar != nil {
				_ = p.bar.Add(0) // redraws the elapsed time
			} else if now.Sub(p.last) >= p.interval {
				p.last = now
				fmt.Fprintln(p.out, p.line(now))
			}
			p.mu.Unlock()
		}
	}
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
	if p.finished {
		return
	}
	p.finished = true
	close(p.stop)
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
