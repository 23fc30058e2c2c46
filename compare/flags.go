package compare

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/avbalance/avbalance/train"
)

// BindFlags binds c's settings to flags of fs: --shards, --out, --methods,
// --seeds, --seed, --select, --parallel, --retrain and every training flag
// of `avbalance train` (train.Config.BindFlags) but those compare sets per
// run (--mode, --shards, --out, --seed, --resume) and the methods'
// hyperparameters, which Parse takes as METHOD.FLAG=VALUE arguments.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Shards, "shards", c.Shards, "extraction `folder` (index.json + shard-*.arrow); its splits are used as they are")
	fs.StringVar(&c.Out, "out", c.Out, "comparison `folder`: table.md, table.csv, results.json, report.html, plots/, runs/METHOD/seed-S/")
	fs.Var((*methodList)(&c.Methods), "methods", "comma-separated `modes` to compare, in table order")
	fs.IntVar(&c.Seeds, "seeds", c.Seeds, "runs per method, seeds SEED, SEED+1, …")
	fs.Var(&c.Seed, "seed", "first `seed`; a seed sets initialisation, shuffling and a method's noise, never the split")
	fs.Var(&c.Select, "select", "`epoch` each run reports: val (the best on the val split) or last (for shards without a val split)")
	fs.IntVar(&c.Parallel, "parallel", c.Parallel, "runs trained at once (at most the CPU count)")
	fs.BoolVar(&c.Retrain, "retrain", c.Retrain, "train a run folder holding another configuration's run again, in place (default: stop and say which)")
	scratch := flag.NewFlagSet("", flag.ContinueOnError)
	c.Train.BindFlags(scratch)
	for _, name := range trainingFlags(scratch) {
		f := scratch.Lookup(name)
		fs.Var(f.Value, f.Name, f.Usage)
	}
}

// Parse parses args into fs (bound by BindFlags) and c.Params: METHOD.FLAG=VALUE
// arguments may stand anywhere among the flags, also written --METHOD.FLAG=VALUE
// or --METHOD.FLAG VALUE. It returns flag.ErrHelp for -h.
func (c *Config) Parse(fs *flag.FlagSet, args []string) error {
	args = bareParams(args)
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return nil
		}
		p, err := ParseParam(rest[0])
		if err != nil {
			if n := len(rest) - 1; n > 0 {
				return fmt.Errorf("unexpected argument %w (the %d arguments after it, %s, were not read)", err, n, strings.Join(rest[1:], " "))
			}
			return fmt.Errorf("unexpected argument %w", err)
		}
		c.Params = append(c.Params, p)
		args = rest[1:]
	}
}

// bareParams rewrites --METHOD.FLAG=VALUE and --METHOD.FLAG VALUE, for a
// registered METHOD, as METHOD.FLAG=VALUE.
func bareParams(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		method, _, dot := strings.Cut(name, ".")
		if len(name) == len(a) || !dot {
			out = append(out, a)
			continue
		}
		if _, err := train.LookupMethod(train.Mode(method)); err != nil {
			out = append(out, a)
			continue
		}
		if !strings.Contains(name, "=") && i+1 < len(args) {
			i++
			name += "=" + args[i]
		}
		out = append(out, name)
	}
	return out
}

// methodList is a comma-separated list of modes as a flag.Value.
type methodList []train.Mode

func (l *methodList) String() string {
	if l == nil {
		return ""
	}
	var names []string
	for _, m := range *l {
		names = append(names, string(m))
	}
	return strings.Join(names, ",")
}

func (l *methodList) Set(s string) error {
	var out []train.Mode
	for _, name := range strings.Split(s, ",") {
		m, err := train.ParseMode(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		out = append(out, m)
	}
	*l = out
	return nil
}

// PrintMethods writes the registered modes with their hyperparameters, as
// METHOD.FLAG arguments of compare take them.
func PrintMethods(w io.Writer) {
	for _, info := range train.Methods() {
		fmt.Fprintf(w, "  %-10s %s\n", info.Mode, info.Summary)
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		info.NewConfig().Flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(w, "  %12s %s.%s=%s\n", "", info.Mode, f.Name, f.DefValue)
		})
	}
}
