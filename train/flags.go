package train

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// BindFlags binds c's settings and the hyperparameters of every registered
// method to flags of fs (one flag per setting, named as on `avbalance
// train`). After fs.Parse, call the returned function: it gives c the chosen
// mode's hyperparameters and refuses a flag of another mode's method.
func (c *Config) BindFlags(fs *flag.FlagSet) (finish func() error) {
	fs.StringVar(&c.Shards, "shards", c.Shards, "extraction output folder (index.json + shard-*.arrow)")
	fs.StringVar(&c.Out, "out", c.Out, "run folder: config.json, metrics.jsonl, checkpoints, result.json")
	fs.Var(&c.Mode, "mode", "training `mode`: "+orList(ModeNames())+" (listed below)")
	fs.Var(&c.Model, "model", "encoder `architecture`: small or resnet18")
	fs.Var(&c.Head, "head", "fusion `head`: concat (concat+linear), sum or mlp")
	fs.IntVar(&c.Embed, "embed", c.Embed, "embedding size per modality (resnet18: 512)")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "epochs")
	fs.IntVar(&c.Batch, "batch", c.Batch, "batch size")
	fs.Float64Var(&c.LR, "lr", c.LR, "learning rate")
	fs.Var(&c.Optimizer, "optimizer", "`optimizer`: sgd (with momentum) or adam")
	fs.Float64Var(&c.Momentum, "momentum", c.Momentum, "SGD momentum")
	fs.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "weight decay")
	fs.Var(&c.Seed, "seed", "`seed` for initialisation, shuffling and a method's noise")
	fs.Var(&c.Target, "target", "target modality `shares` (pulled by attr-reg; the penalty column of every fusion run)")
	fs.Var(&c.AttrClass, "attr-class", "shares attribute the true or the predicted `class`")
	fs.Var(&c.AttrQuantity, "attr-quantity", "shares attribute the `quantity` centered (the logit minus its mean over classes), logit (raw, the paper's), logprob or margin (to the runner-up)")
	fs.Var(&c.AttrNorm, "attr-norm", "shares pool attributions with the `norm` net (signed sum clipped at 0: the net contribution), net-abs, l2 or l1")
	fs.Var(&c.AttrMethod, "attr-method", "shares attribute with the `method` ig (Integrated Gradients on the embeddings, from --attr-baseline) or gradinput (Grad×Input, the paper's)")
	fs.Var(&c.AttrBaseline, "attr-baseline", "ig: the `baseline` embedding, mean (of the batch in training, of the split in evaluation) or zero")
	fs.IntVar(&c.AttrSteps, "attr-steps", c.AttrSteps, "ig: integration steps (midpoint rule; exact at any count for the concat and sum heads)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "batch-loading goroutines")
	fs.IntVar(&c.MaxSteps, "max-steps", c.MaxSteps, "stop each epoch after this many steps (0: none; for smoke tests)")
	fs.BoolVar(&c.Resume, "resume", c.Resume, "continue the run in --out from its last checkpoint")
	own := map[Mode]MethodConfig{}
	owner := map[string]Mode{}
	for _, info := range Methods() {
		mc := info.NewConfig()
		if info.Mode == c.Mode && c.Method != nil {
			mc = c.Clone().Method
		}
		own[info.Mode] = mc
		mc.Flags(fs)
		for _, name := range MethodFlags(mc) {
			owner[name] = info.Mode
		}
	}
	return func() error {
		var errs []string
		fs.Visit(func(f *flag.Flag) {
			if m, ok := owner[f.Name]; ok && m != c.Mode {
				errs = append(errs, fmt.Sprintf("--%s is a flag of %s, not of --mode %s", f.Name, m, c.Mode))
			}
		})
		c.Method = own[c.Mode]
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
}

// PrintModes writes the registered modes and their one-line summaries.
func PrintModes(w io.Writer) {
	for _, info := range Methods() {
		fmt.Fprintf(w, "  %-10s %s\n", info.Mode, info.Summary)
	}
}
