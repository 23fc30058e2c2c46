package demo

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
	"github.com/avbalance/avbalance/train"
)

// write draws the plots and writes report.html.
func (r *Report) write() error {
	dir := filepath.Join(r.Config.Out, PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	r.Plots = nil
	save := func(p *plot.Plot, name string, w, h vg.Length) error {
		if err := p.Save(w, h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("demo: plot %s: %w", name, err)
		}
		r.Plots = append(r.Plots, PlotsDir+"/"+name)
		return nil
	}
	type series struct {
		name string
		xys  plotter.XYs
	}
	lines := func(title, ylabel string, ss []series, ymax float64) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = ylabel
		p.Y.Min, p.Y.Max = 0, ymax
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = false, false
		p.Legend.YOffs = -vg.Points(2)
		var args []any
		for _, s := range ss {
			if len(s.xys) > 0 {
				args = append(args, s.name, s.xys)
			}
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return nil, err
		}
		return p, nil
	}
	val := ingest.SplitVal
	fusion := func(m train.Mode) bool { return m != train.ModeAudio && m != train.ModeVideo }

	// All modes on one figure: validation accuracy, video share, video probe accuracy.
	var acc, share, probe []series
	for i, m := range r.Config.Modes {
		mode := string(m)
		acc = append(acc, series{mode, r.curve(i, val, func(m train.Metrics) float64 { return m.Accuracy })})
		if fusion(m) {
			share = append(share, series{mode, r.curve(i, val, func(m train.Metrics) float64 { return m.VideoShare })})
			probe = append(probe, series{mode + " (video probe)", r.curve(i, val, func(m train.Metrics) float64 { return m.ProbeVideo })})
		} else if m == train.ModeVideo {
			probe = append(probe, series{"video-only model", r.curve(i, val, func(m train.Metrics) float64 { return m.Accuracy })})
		}
	}
	if p, err := lines("Validation accuracy per epoch"+r.seedNote(), "accuracy", acc, 1); err != nil {
		return err
	} else if err := save(p, "accuracy.png", 16*vg.Centimeter, 10*vg.Centimeter); err != nil {
		return err
	}
	if len(share) > 0 {
		p, err := lines("Video attribution share per epoch (validation)"+r.seedNote(), "video share", share, 1)
		if err != nil {
			return err
		}
		target := r.Config.Train.Target[1]
		if tl, err := plotter.NewLine(plotter.XYs{{X: 1, Y: target}, {X: float64(r.maxEpochs()), Y: target}}); err == nil {
			tl.Color, tl.Dashes = color.Gray{Y: 100}, []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(tl)
			p.Legend.Add(fmt.Sprintf("target %.2f", target), tl)
		}
		if err := save(p, "video-share.png", 16*vg.Centimeter, 10*vg.Centimeter); err != nil {
			return err
		}
		p, err = lines("How well video alone classifies (validation)"+r.seedNote(), "accuracy", probe, 1)
		if err != nil {
			return err
		}
		if err := save(p, "video-probe.png", 16*vg.Centimeter, 10*vg.Centimeter); err != nil {
			return err
		}
	}

	// One figure per mode: train/val accuracy, shares and probes.
	for i, m := range r.Config.Modes {
		mode := string(m)
		ss := []series{
			{"train acc", r.curve(i, ingest.SplitTrain, func(m train.Metrics) float64 { return m.Accuracy })},
			{"val acc", r.curve(i, val, func(m train.Metrics) float64 { return m.Accuracy })},
		}
		if fusion(m) {
			ss = append(ss,
				series{"val audio share", r.curve(i, val, func(m train.Metrics) float64 { return m.AudioShare })},
				series{"val video share", r.curve(i, val, func(m train.Metrics) float64 { return m.VideoShare })},
				series{"val audio probe", r.curve(i, val, func(m train.Metrics) float64 { return m.ProbeAudio })},
				series{"val video probe", r.curve(i, val, func(m train.Metrics) float64 { return m.ProbeVideo })})
		}
		p, err := lines(mode+": accuracy and modality shares per epoch"+r.seedNote(), "", ss, 1)
		if err != nil {
			return err
		}
		if err := save(p, "mode-"+mode+".png", 16*vg.Centimeter, 10*vg.Centimeter); err != nil {
			return err
		}
	}

	// Share histograms of the fusion modes (test clips of every seed).
	for i, m := range r.Config.Modes {
		mode := string(m)
		if !fusion(m) {
			continue
		}
		var vs plotter.Values
		for _, s := range r.Seeds {
			for _, cs := range s.Runs[i].ClipShares {
				vs = append(vs, cs[1])
			}
		}
		if len(vs) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s: video share per test clip (%d clips)", mode, len(vs))
		p.X.Label.Text = "video share (audio share = 1 − video share)"
		p.Y.Label.Text = "clips"
		p.X.Min, p.X.Max = 0, 1
		vs = append(vs, 0, 1) // pin the bins to [0,1] …
		h, err := plotter.NewHist(vs, 20)
		if err != nil {
			return fmt.Errorf("demo: histogram %s: %w", mode, err)
		}
		h.Bins[0].Weight-- // … and take the two pins out again
		h.Bins[len(h.Bins)-1].Weight--
		h.FillColor = plotutil.Color(i)
		p.Add(plotter.NewGrid(), h)
		if err := save(p, "hist-"+mode+".png", 12*vg.Centimeter, 8*vg.Centimeter); err != nil {
			return err
		}
	}
	r.HTML = filepath.Join(r.Config.Out, ReportFile)
	return r.writeHTML()
}

// curve is the per-epoch value of mode i on split, averaged over the seeds that have it.
func (r *Report) curve(i int, split string, f func(train.Metrics) float64) plotter.XYs {
	sum := map[int]float64{}
	n := map[int]int{}
	maxE := -1
	for _, s := range r.Seeds {
		for _, m := range s.Runs[i].History {
			if m.Split == split {
				sum[m.Epoch] += f(m)
				n[m.Epoch]++
				maxE = max(maxE, m.Epoch)
			}
		}
	}
	var xys plotter.XYs
	for e := 0; e <= maxE; e++ {
		if n[e] > 0 {
			xys = append(xys, plotter.XY{X: float64(e + 1), Y: sum[e] / float64(n[e])})
		}
	}
	return xys
}

func (r *Report) maxEpochs() int {
	m := 1
	for _, mode := range r.Config.Modes {
		if tc, err := r.Config.trainConfig(mode); err == nil {
			m = max(m, tc.Epochs)
		}
	}
	return m
}

func (r *Report) seedNote() string {
	if len(r.Seeds) > 1 {
		return fmt.Sprintf(" (mean of %d seeds)", len(r.Seeds))
	}
	return ""
}

func (r *Report) writeHTML() error {
	type seedRow struct {
		Seed                                   int64
		Clips, Train, Val, Test                int
		Total, OK, Failed, ShardRows, Failures int
		Codec                                  string
		Synth, Extract                         string
	}
	var seeds []seedRow
	for _, s := range r.Seeds {
		seeds = append(seeds, seedRow{Seed: s.Seed, Clips: s.Clips, Train: s.Splits["train"], Val: s.Splits["val"],
			Test: s.Splits["test"], Total: s.Extract.Total, OK: s.Extract.OK, Failed: s.Extract.Failed,
			ShardRows: s.Extract.ShardRows, Failures: s.Extract.Failures, Codec: s.VideoCodec,
			Synth: fmt.Sprintf("%.1f", s.Timings["synth"]), Extract: fmt.Sprintf("%.1f", s.Timings["extract"])})
	}
	sc := r.Config.Synth.WithDefaults()
	preset, _ := r.Config.preset()
	tc := r.Config.Train
	data := map[string]any{
		"Table":  r.Table(),
		"Header": TableHeader,
		"Rows":   r.TableRows(),
		"Checks": r.Checks,
		"Seeds":  seeds,
		"NSeeds": len(r.Seeds),
		"Plots":  r.Plots,
		"Setup": []string{
			fmt.Sprintf("generator: %d clips per seed, %d classes in %d pairs, %g s, %d×%d at %d fps, video codec %s",
				sc.Clips, sc.Classes, sc.Pairs(), sc.Seconds, sc.Width, sc.Height, sc.FPS, sc.VideoCodec),
			fmt.Sprintf("audio: a tone per pair (%g–%g Hz) at %g dB SNR — tells the pair, never the member",
				sc.Cues.ToneLowHz, sc.Cues.ToneHighHz, sc.Cues.AudioSNRdB),
			fmt.Sprintf("video: a faint grating (contrast %g, period %g of the frame) whose orientation is the class (members 90° apart, pairs %.0f° apart), noise %g, %d distractors",
				sc.Cues.CueContrast, sc.Cues.StripePeriod, sc.Cues.PairSpread*90/float64(sc.Pairs()), sc.Cues.VideoNoise, sc.Cues.Distractors),
			fmt.Sprintf("features: preset %s — %d×%d %s, %d frames of %d×%d", preset.Name, preset.NMels, preset.TimeFrames,
				preset.Feature, preset.Frames, preset.Width, preset.Height),
			fmt.Sprintf("training: %s encoders (embedding %d), %s head, %s lr %g, batch %d, %d epochs; target shares audio %.2f / video %.2f (%s class, %s); %s",
				tc.Model, tc.Embed, tc.Head, tc.Optimizer, tc.LR, tc.Batch, tc.Epochs, tc.Target[0], tc.Target[1],
				tc.AttrClass, tc.AttrNorm, r.Config.paramsText()),
			fmt.Sprintf("time: %.0f s wall, %.0f CPU-s (this process)", r.Elapsed, r.CPU),
		},
	}
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, data); err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	return os.WriteFile(r.HTML, b.Bytes(), 0o644)
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>avbalance demo</title>
<style>
body{font-family:system-ui,sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.pass{color:#1a7f37}.fail{color:#cf222e}
img{max-width:100%;margin:.5em 0}figure{display:inline-block;margin:.5em}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>avbalance demo</h1>
<p>A generated audio-visual set with a built-in modality imbalance: audio tells the class up to a pair
(quick to learn, never complete), video tells the whole class through a faint cue that is slower to learn.
Every mode trains on the same shards; metrics are on the test split at the best validation epoch{{if gt .NSeeds 1}},
mean ± sample standard deviation over {{.NSeeds}} seeds (each seed generates its own set){{end}}.
Shares are Grad×Input attribution shares of the audio and video embeddings; a probe is the fusion head's
accuracy with the other modality's embedding set to zero.</p>
<h2>Results</h2>
<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<ul>{{range .Checks}}<li class="{{if .Pass}}pass{{else}}fail{{end}}">{{if .Pass}}✔{{else}}✘{{end}} {{.Name}}: {{.Detail}}</li>
{{end}}</ul>
<h2>Setup</h2>
<ul>{{range .Setup}}<li>{{.}}</li>{{end}}</ul>
<h2>Clips</h2>
<table><tr><th>seed</th><th>generated</th><th>train / val / test</th><th>codec</th><th>clips_total</th><th>clips_ok</th><th>clips_failed</th><th>shard rows</th><th>failure lines</th><th>synth s</th><th>extract s</th></tr>
{{range .Seeds}}<tr><td>{{.Seed}}</td><td>{{.Clips}}</td><td>{{.Train}} / {{.Val}} / {{.Test}}</td><td>{{.Codec}}</td><td>{{.Total}}</td><td>{{.OK}}</td><td>{{.Failed}}</td><td>{{.ShardRows}}</td><td>{{.Failures}}</td><td>{{.Synth}}</td><td>{{.Extract}}</td></tr>
{{end}}</table>
<h2>Plots</h2>
{{range .Plots}}<figure><img src="{{.}}" alt="{{.}}"></figure>
{{end}}
<h2>As text</h2>
<pre>{{.Table}}</pre>
</body></html>
`))
