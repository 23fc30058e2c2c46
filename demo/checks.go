package demo

import (
	"fmt"
	"math"
	"strings"

	"github.com/avbalance/avbalance/compare"
	"github.com/avbalance/avbalance/train"
)

// checks states the imbalance the demo is built to show in numbers (means over seeds, and
// one check seed by seed); a check whose modes did not run is left out.
func checks(r *compare.Report) []compare.Check {
	var out []compare.Check
	has := func(m train.Mode) bool { return len(r.MethodRuns(m)) > 0 }
	stat := func(m train.Mode, key string) compare.Stat { return r.Stat(m, key) }
	video, concat, attr := train.ModeVideo, train.ModeConcat, train.ModeAttrReg
	target := r.Config.Train.Target[1]
	if has(concat) {
		s := stat(concat, "video_share")
		out = append(out, compare.Check{Name: "concat gives video a minor attribution share",
			Detail: fmt.Sprintf("concat video share %s (< 0.35)", s.Format(2)), Pass: s.Mean < 0.35})
	}
	if has(concat) && has(video) {
		p, v := stat(concat, "video_probe"), stat(video, "test_acc")
		out = append(out, compare.Check{Name: "concat under-uses video",
			Detail: fmt.Sprintf("concat video probe acc %s vs video-only acc %s (gap > 0.1)", p.Format(3), v.Format(3)),
			Pass:   v.Mean-p.Mean > 0.1})
	}
	if has(concat) && has(attr) {
		c, a := stat(concat, "video_share"), stat(attr, "video_share")
		out = append(out, compare.Check{Name: "attr-reg moves the shares toward the target",
			Detail: fmt.Sprintf("video share %s → %s (target %.2f)", c.Format(2), a.Format(2), target),
			Pass:   math.Abs(a.Mean-target) < math.Abs(c.Mean-target)})
		ca, aa := stat(concat, "test_acc"), stat(attr, "test_acc")
		out = append(out, compare.Check{Name: "attr-reg beats concat on test accuracy",
			Detail: fmt.Sprintf("test acc %s vs concat %s", aa.Format(3), ca.Format(3)), Pass: aa.Mean > ca.Mean})
		out = append(out, probeAboveOnEverySeed(r))
	}
	return out
}

// probeAboveOnEverySeed: attr-reg's video probe is above concat's on every seed (real use,
// not a mean that one lucky seed can carry).
func probeAboveOnEverySeed(r *compare.Report) compare.Check {
	pass := true
	var per []string
	for _, seed := range r.Config.SeedList() {
		a, c := r.Run(train.ModeAttrReg, seed), r.Run(train.ModeConcat, seed)
		if a == nil || c == nil {
			pass = false
			per = append(per, fmt.Sprintf("seed %d missing", seed))
			continue
		}
		above := a.Test.ProbeVideo > c.Test.ProbeVideo
		pass = pass && above
		rel := "≤"
		if above {
			rel = ">"
		}
		per = append(per, fmt.Sprintf("seed %d %.3f %s %.3f", seed, a.Test.ProbeVideo, rel, c.Test.ProbeVideo))
	}
	return compare.Check{Name: "attr-reg's video probe is above concat's on every seed",
		Detail: "attr-reg vs concat video probe: " + strings.Join(per, ", "), Pass: pass}
}
