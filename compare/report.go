package compare

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/internal/atomicfile"
	"github.com/avbalance/avbalance/train"
)

// write writes table.md, table.csv, the plots and report.html.
func (r *Report) write() error {
	out := r.Config.Out
	if err := atomicfile.Write(filepath.Join(out, TableFile), []byte(r.Table())); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(out, CSVFile), r.CSV()); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if err := r.plot(); err != nil {
		return err
	}
	return r.writeHTML()
}

// band is a per-epoch mean over seeds and its ±1 std band.
type band struct {
	name       string
	mean       plotter.XYs
	low, high  plotter.XYs
	withSpread bool
}

// curve is method's per-epoch value on split, as a mean over its seeds
// with a ±std band (epochs some seed lacks are averaged over the others).
func (r *Report) curve(method train.Mode, split string, name string, f func(train.Metrics) float64) band {
	byEpoch := map[int][]float64{}
	maxE := -1
	for _, run := range r.MethodRuns(method) {
		for _, m := range run.History {
			if m.Split == split {
				byEpoch[m.Epoch] = append(byEpoch[m.Epoch], f(m))
				maxE = max(maxE, m.Epoch)
			}
		}
	}
	b := band{name: name}
	for e := 0; e <= maxE; e++ {
		if xs := byEpoch[e]; len(xs) > 0 {
			s := NewStat(xs)
			x := float64(e + 1)
			b.mean = append(b.mean, plotter.XY{X: x, Y: s.Mean})
			b.low = append(b.low, plotter.XY{X: x, Y: max(s.Mean-s.Std, 0)}) // the values are in [0,1]
			b.high = append(b.high, plotter.XY{X: x, Y: min(s.Mean+s.Std, 1)})
			b.withSpread = b.withSpread || s.N > 1
		}
	}
	return b
}

// selectionSplit is the split the per-epoch curves show: val, or train for
// shards without one.
func (r *Report) selectionSplit() string {
	if r.Protocol.Splits[ingest.SplitVal] == 0 {
		return ingest.SplitTrain
	}
	return ingest.SplitVal
}

func (r *Report) plot() error {
	dir := filepath.Join(r.Config.Out, PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	r.Plots = nil
	save := func(p *plot.Plot, name string, w, h vg.Length) error {
		if err := p.Save(w, h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("compare: plot %s: %w", name, err)
		}
		r.Plots = append(r.Plots, PlotsDir+"/"+name)
		return nil
	}
	wide, tall := 16*vg.Centimeter, 10*vg.Centimeter
	split := r.selectionSplit()
	seeds := r.seedNote()
	var acc, share, probeA, probeV []band
	for _, m := range r.Config.Methods {
		name := string(m)
		acc = append(acc, r.curve(m, split, name, func(x train.Metrics) float64 { return x.Accuracy }))
		switch {
		case fusion(m):
			share = append(share, r.curve(m, split, name, func(x train.Metrics) float64 { return x.VideoShare }))
			probeA = append(probeA, r.curve(m, split, name, func(x train.Metrics) float64 { return x.ProbeAudio }))
			probeV = append(probeV, r.curve(m, split, name, func(x train.Metrics) float64 { return x.ProbeVideo }))
		case m == train.ModeAudio:
			probeA = append(probeA, r.curve(m, split, "audio-only model", func(x train.Metrics) float64 { return x.Accuracy }))
		case m == train.ModeVideo:
			probeV = append(probeV, r.curve(m, split, "video-only model", func(x train.Metrics) float64 { return x.Accuracy }))
		}
	}
	p, err := bands("Accuracy per epoch ("+split+")"+seeds, "accuracy", acc)
	if err == nil {
		err = save(p, "accuracy.png", wide, tall)
	}
	if err != nil {
		return err
	}
	if len(share) > 0 {
		p, err := bands("Video attribution share per epoch ("+split+")"+seeds, "video share (audio = 1 − video)", share)
		if err != nil {
			return err
		}
		target := r.Config.Train.Target[1]
		if tl, err := plotter.NewLine(plotter.XYs{{X: 1, Y: target}, {X: float64(r.maxEpochs()), Y: target}}); err == nil {
			tl.Color, tl.Dashes = color.Gray{Y: 100}, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(tl)
			p.Legend.Add(fmt.Sprintf("target %.2f", target), tl)
		}
		if err := save(p, "video-share.png", wide, tall); err != nil {
			return err
		}
		for _, pr := range []struct {
			file, what string
			b          []band
		}{{"audio-probe.png", "audio", probeA}, {"video-probe.png", "video", probeV}} {
			p, err := bands("How well "+pr.what+" alone classifies ("+split+")"+seeds, "probe accuracy", pr.b)
			if err == nil {
				err = save(p, pr.file, wide, tall)
			}
			if err != nil {
				return err
			}
		}
	}
	if p, err = r.accuracyBars(); err == nil {
		err = save(p, "test-accuracy.png", wide, tall)
	}
	if err != nil {
		return err
	}
	for _, m := range r.Config.Methods {
		name := string(m)
		bs := []band{
			r.curve(m, ingest.SplitTrain, "train acc", func(x train.Metrics) float64 { return x.Accuracy }),
			r.curve(m, split, split+" acc", func(x train.Metrics) float64 { return x.Accuracy }),
		}
		if fusion(m) {
			bs = append(bs,
				r.curve(m, split, split+" audio share", func(x train.Metrics) float64 { return x.AudioShare }),
				r.curve(m, split, split+" video share", func(x train.Metrics) float64 { return x.VideoShare }),
				r.curve(m, split, split+" audio probe", func(x train.Metrics) float64 { return x.ProbeAudio }),
				r.curve(m, split, split+" video probe", func(x train.Metrics) float64 { return x.ProbeVideo }))
		}
		p, err := bands(name+": accuracy, shares and probes per epoch"+seeds, "", bs)
		if err == nil {
			err = save(p, "mode-"+name+".png", wide, tall)
		}
		if err != nil {
			return err
		}
	}
	for i, m := range r.Config.Methods {
		if !fusion(m) {
			continue
		}
		if p, err := r.shareHistogram(m, i); err != nil {
			return err
		} else if p != nil {
			if err := save(p, "hist-"+string(m)+".png", 12*vg.Centimeter, 8*vg.Centimeter); err != nil {
				return err
			}
		}
	}
	return nil
}

// bands plots mean lines with translucent ±std bands on [0,1].
func bands(title, ylabel string, bs []band) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = -vg.Points(2)
	for i, b := range bs {
		if len(b.mean) == 0 {
			continue
		}
		c := plotutil.Color(i)
		if b.withSpread {
			ring := append(plotter.XYs(nil), b.low...)
			for k := len(b.high) - 1; k >= 0; k-- {
				ring = append(ring, b.high[k])
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, err
			}
			r, g, bl, _ := c.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: 50}
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		line, points, err := plotter.NewLinePoints(b.mean)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(b.name, line, points)
	}
	return p, nil
}

// accuracyBars is a bar per method of the mean test accuracy with ±std
// error bars.
func (r *Report) accuracyBars() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Test accuracy" + r.seedNote()
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	var vals plotter.Values
	var errs errorBars
	var names []string
	for i, row := range r.Rows {
		s := row.Stats["test_acc"]
		vals = append(vals, s.Mean)
		errs.xys = append(errs.xys, plotter.XY{X: float64(i), Y: s.Mean})
		errs.err = append(errs.err, struct{ Low, High float64 }{s.Std, s.Std})
		names = append(names, string(row.Method))
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	eb, err := plotter.NewYErrorBars(errs)
	if err != nil {
		return nil, err
	}
	p.Add(bars, eb)
	p.NominalX(names...)
	return p, nil
}

// errorBars are points with symmetric Y errors for plotter.NewYErrorBars.
type errorBars struct {
	xys plotter.XYs
	err plotter.YErrors
}

func (e errorBars) Len() int                        { return len(e.xys) }
func (e errorBars) XY(i int) (float64, float64)     { return e.xys.XY(i) }
func (e errorBars) YError(i int) (float64, float64) { return e.err.YError(i) }

// shareHistogram is the per-clip test video share of method over every
// seed (nil when there are none).
func (r *Report) shareHistogram(method train.Mode, i int) (*plot.Plot, error) {
	var vs plotter.Values
	for _, run := range r.MethodRuns(method) {
		for _, cs := range run.ClipShares {
			vs = append(vs, cs[1])
		}
	}
	if len(vs) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: video share per test clip (%d clips%s)", method, len(vs), r.seedNote())
	p.X.Label.Text = "video share (audio share = 1 − video share)"
	p.Y.Label.Text = "clips"
	p.X.Min, p.X.Max = 0, 1
	vs = append(vs, 0, 1) // pin the bins to [0,1] …
	h, err := plotter.NewHist(vs, 20)
	if err != nil {
		return nil, fmt.Errorf("compare: histogram %s: %w", method, err)
	}
	h.Bins[0].Weight-- // … and take the two pins out again
	h.Bins[len(h.Bins)-1].Weight--
	h.FillColor = plotutil.Color(i)
	p.Add(plotter.NewGrid(), h)
	return p, nil
}

func (r *Report) maxEpochs() int {
	m := 1
	for _, run := range r.Runs {
		m = max(m, run.Config.Epochs)
	}
	return m
}

func (r *Report) seedNote() string {
	if n := r.Config.Seeds; n > 1 {
		return fmt.Sprintf(" — mean ± std of %d seeds", n)
	}
	return ""
}

func (r *Report) writeHTML() error {
	title := r.Config.Title
	if title == "" {
		title = "avbalance compare"
	}
	type runRow struct {
		Method                          train.Mode
		Seed                            ingest.Seed
		Epoch                           int
		Acc, F1, Video, ProbeV, Seconds string
		Dir                             string
	}
	var runs []runRow
	for _, run := range r.Runs {
		runs = append(runs, runRow{Method: run.Method, Seed: run.Seed, Epoch: run.BestEpoch + 1,
			Acc: fmt.Sprintf("%.3f", run.Test.Accuracy), F1: fmt.Sprintf("%.3f", run.Test.MacroF1),
			Video: fmt.Sprintf("%.2f", run.Test.VideoShare), ProbeV: fmt.Sprintf("%.3f", run.Test.ProbeVideo),
			Seconds: fmt.Sprintf("%.1f", run.Seconds), Dir: run.Dir})
	}
	data := map[string]any{
		"Title": title, "Setup": r.Setup(), "Header": Header(), "Rows": r.Cells(), "Checks": r.Checks,
		"Runs": runs, "Plots": r.Plots, "Table": r.Table(), "Columns": columnsNote,
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, data); err != nil {
		return fmt.Errorf("compare: report: %w", err)
	}
	return atomicfile.Write(filepath.Join(r.Config.Out, ReportFile), b.Bytes())
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:80em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.pass{color:#1a7f37}.fail{color:#cf222e}
img{max-width:100%;margin:.5em 0}figure{display:inline-block;margin:.5em}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>{{.Title}}</h1>
<h2>Protocol</h2>
<ul>{{range .Setup}}<li>{{.}}</li>{{end}}</ul>
<h2>Results</h2>
<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Checks}}<ul>{{range .Checks}}<li class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}✔{{else}}✘{{end}} {{.Name}}: {{.Detail}}</li>
{{end}}</ul>{{end}}
<p>{{.Columns}}</p>
<h2>Plots</h2>
{{range .Plots}}<figure><img src="{{.}}" alt="{{.}}"></figure>
{{end}}
<h2>Runs</h2>
<table><tr><th>method</th><th>seed</th><th>selected epoch</th><th>test acc</th><th>macro-F1</th><th>video share</th><th>video probe</th><th>seconds</th><th>folder</th></tr>
{{range .Runs}}<tr><td>{{.Method}}</td><td>{{.Seed}}</td><td>{{.Epoch}}</td><td>{{.Acc}}</td><td>{{.F1}}</td><td>{{.Video}}</td><td>{{.ProbeV}}</td><td>{{.Seconds}}</td><td><code>{{.Dir}}</code></td></tr>
{{end}}</table>
<h2>As text</h2>
<pre>{{.Table}}</pre>
</body></html>
`))
