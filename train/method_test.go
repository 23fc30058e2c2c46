package train

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestMethodRegistry checks every registered method: its hyperparameters'
// JSON names do not collide with Config's, its defaults validate, and a
// config.json round trip keeps them.
func TestMethodRegistry(t *testing.T) {
	base, err := json.Marshal(configFields(DefaultConfig()))
	if err != nil {
		t.Fatal(err)
	}
	var baseKeys map[string]any
	if err := json.Unmarshal(base, &baseKeys); err != nil {
		t.Fatal(err)
	}
	for _, info := range Methods() {
		mc := info.NewConfig()
		if err := mc.Validate(); err != nil {
			t.Errorf("%s: defaults do not validate: %v", info.Mode, err)
		}
		b, _ := json.Marshal(mc)
		var own map[string]any
		if err := json.Unmarshal(b, &own); err != nil {
			t.Fatalf("%s: %v", info.Mode, err)
		}
		for k := range own {
			if _, dup := baseKeys[k]; dup {
				t.Errorf("%s: hyperparameter %q has the JSON name of a Config field", info.Mode, k)
			}
		}
		c, err := NewConfig(info.Mode)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range MethodFlags(c.Method) {
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			c.Method.Flags(fs)
			if err := c.SetParam(name, fs.Lookup(name).DefValue); err != nil {
				t.Errorf("%s: SetParam(%s): %v", info.Mode, name, err)
			}
		}
		b, err = json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", info.Mode, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("%s: config.json round trip:\n%s\n%s", info.Mode, b, b2)
		}
	}
}

func TestSetParamErrors(t *testing.T) {
	c, _ := NewConfig(ModeAttrReg)
	if err := c.SetParam("alpha", "1"); err == nil || !strings.Contains(err.Error(), "lambda") {
		t.Errorf("alpha on attr-reg: %v (want a refusal naming attr-reg's hyperparameters)", err)
	}
	if err := c.SetParam("lambda", "x"); err == nil {
		t.Error("lambda=x accepted")
	}
	c, _ = NewConfig(ModeConcat)
	if err := c.SetParam("lambda", "1"); err == nil || !strings.Contains(err.Error(), "no hyperparameters") {
		t.Errorf("lambda on concat: %v", err)
	}
}

// TestBindFlagsRefusesOtherMethodsFlags: --lambda with --mode ogm-ge is a
// mistake, not a silently ignored setting.
func TestBindFlagsRefusesOtherMethodsFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	finish := c.BindFlags(fs)
	if err := fs.Parse([]string{"--mode", "ogm-ge", "--lambda", "3", "--alpha", "0.3"}); err != nil {
		t.Fatal(err)
	}
	err := finish()
	if err == nil || !strings.Contains(err.Error(), "--lambda is a flag of attr-reg") {
		t.Errorf("finish: %v", err)
	}
	if oc, ok := c.Method.(*OGMGEConfig); !ok || oc.Alpha != 0.3 {
		t.Errorf("method config %#v, want ogm-ge with alpha 0.3", c.Method)
	}
}

// TestREADMEModeTable keeps the README's table of modes in step with the
// registry.
func TestREADMEModeTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, info := range Methods() {
		row := "| `" + string(info.Mode) + "` | " + strings.ReplaceAll(info.Summary, "|", `\|`) + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}

// TestLinearProbeSeparable: on linearly separable embeddings the probe is
// exact, on labels unrelated to the embeddings it is at chance.
func TestLinearProbeSeparable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	make3 := func(n int, informative bool) embeddingSet {
		var s embeddingSet
		for i := 0; i < n; i++ {
			y := i % 3
			x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), 5}
			if informative {
				x[y] += 4
			}
			s.x, s.labels = append(s.x, x), append(s.labels, y)
		}
		return s
	}
	acc, err := fitLinearProbe(make3(150, true), make3(60, true), 3)
	if err != nil || acc < 0.95 {
		t.Errorf("separable: accuracy %.3f, %v", acc, err)
	}
	acc, err = fitLinearProbe(make3(150, false), make3(300, false), 3)
	if err != nil || acc > 0.45 {
		t.Errorf("uninformative: accuracy %.3f (chance 1/3), %v", acc, err)
	}
}
