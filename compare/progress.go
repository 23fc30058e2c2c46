package compare

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// statusEvery is how often at most the tracker prints a status line between
// runs starting and finishing.
const statusEvery = 10 * time.Second

// tracker prints the progress of a comparison: runs done of total, the
// epochs of the runs in flight and an ETA from the epochs done so far.
type tracker struct {
	cfg    *Config
	mu     sync.Mutex
	total  int // runs
	done   int // runs complete
	epochs struct{ total, done int }
	start  time.Time
	status time.Time
	// running maps the runs in flight to their epochs done.
	running map[*job]int
}

func newTracker(cfg *Config, total, done int, todo []*job) *tracker {
	t := &tracker{cfg: cfg, total: total, done: done, start: time.Now(), running: map[*job]int{}}
	for _, j := range todo {
		t.epochs.total += max(j.tc.Epochs-j.done, 0)
	}
	t.status = t.start
	return t
}

func (t *tracker) started(j *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running[j] = j.done
	how := "from the start"
	if j.state == stateResume {
		how = fmt.Sprintf("resuming after epoch %d", j.done)
	}
	t.cfg.logf("[%d/%d] start %s seed %d: %d epochs, %s\n", t.done, t.total, j.method, j.seed, j.tc.Epochs, how)
}

func (t *tracker) finished(j *job, r *RunResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.running, j)
	t.done++
	m := r.Test
	t.cfg.logf("[%d/%d] done  %s seed %d in %.1fs: test acc %.3f macro-F1 %.3f, shares audio %.2f video %.2f, probes %.3f/%.3f (epoch %d)%s\n",
		t.done, t.total, j.method, j.seed, r.Seconds, m.Accuracy, m.MacroF1, m.AudioShare, m.VideoShare,
		m.ProbeAudio, m.ProbeVideo, r.BestEpoch+1, t.eta())
}

// epoch counts one finished epoch of j.
func (t *tracker) epoch(j *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running[j]++
	t.epochs.done++
	if time.Since(t.status) < statusEvery {
		return
	}
	t.status = time.Now()
	var parts []string
	for r, e := range t.running {
		parts = append(parts, fmt.Sprintf("%s seed %d epoch %d/%d", r.method, r.seed, e, r.tc.Epochs))
	}
	sort.Strings(parts)
	t.cfg.logf("[%d/%d] running %s; %d/%d epochs%s\n", t.done, t.total, strings.Join(parts, ", "),
		t.epochs.done, t.epochs.total, t.eta())
}

// eta is " — ETA 3m20s" from the rate of epochs so far ("" before the first).
func (t *tracker) eta() string {
	if t.epochs.done == 0 {
		return ""
	}
	left := t.epochs.total - t.epochs.done
	per := time.Since(t.start) / time.Duration(t.epochs.done)
	return fmt.Sprintf(" — ETA %s", (per * time.Duration(left)).Round(time.Second))
}

// epochWriter is the Progress of j's training: it counts the trainer's
// epoch lines and, with Verbose, passes every line on.
func (t *tracker) epochWriter(j *job) io.Writer {
	return &lineWriter{line: func(line string) {
		if strings.HasPrefix(line, "epoch ") {
			t.epoch(j)
		}
		if t.cfg.Verbose {
			t.cfg.logf("%s seed %d: %s\n", j.method, j.seed, line)
		}
	}}
}

// lineWriter calls line for every complete line written to it.
type lineWriter struct {
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// meter measures the wall and CPU time of the runs in flight and saves it
// in their run.json every few seconds, so an interrupted run keeps the time
// it took. The process's CPU time is shared equally among the runs in
// flight (exact with one run at a time).
type meter struct {
	mu      sync.Mutex
	active  map[*job]*metered
	lastCPU float64
	stopc   chan struct{}
	wg      sync.WaitGroup
}

type metered struct {
	dir   string
	rec   runRecord // as at the start
	began time.Time
	cpu   float64
}

const (
	meterTick = 250 * time.Millisecond
	meterSave = 5 * time.Second
)

func newMeter() *meter {
	m := &meter{active: map[*job]*metered{}, lastCPU: cpuSeconds(), stopc: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(meterTick)
		defer tick.Stop()
		saved := time.Now()
		for {
			select {
			case <-m.stopc:
				return
			case <-tick.C:
			}
			m.mu.Lock()
			m.tick()
			if time.Since(saved) >= meterSave {
				saved = time.Now()
				for _, a := range m.active {
					_ = writeRecord(a.dir, a.now()) // best effort; the run's own final write reports errors
				}
			}
			m.mu.Unlock()
		}
	}()
	return m
}

// tick shares the CPU time since the last tick among the active runs (mu held).
func (m *meter) tick() {
	now := cpuSeconds()
	if n := len(m.active); n > 0 {
		for _, a := range m.active {
			a.cpu += (now - m.lastCPU) / float64(n)
		}
	}
	m.lastCPU = now
}

// now is the run's record with the time measured so far added.
func (a *metered) now() runRecord {
	r := a.rec
	r.Seconds += time.Since(a.began).Seconds()
	r.CPUSeconds += a.cpu
	return r
}

func (m *meter) start(j *job, dir string, rec runRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	m.active[j] = &metered{dir: dir, rec: rec, began: time.Now()}
}

// stop ends j's measurement and returns its record with the time added.
func (m *meter) stop(j *job) runRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick()
	a := m.active[j]
	delete(m.active, j)
	return a.now()
}

func (m *meter) close() {
	close(m.stopc)
	m.wg.Wait()
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
