package main

import (
	"context"
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/avbalance/avbalance/features/shard"
)

func runInspect(_ context.Context, args []string) int {
	fs := newFlags("inspect", "DIR [--json] [--verify=false]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verify := fs.Bool("verify", true, "recompute every shard's sha256 and check the clip accounting")
	if code := parseArgs(fs, moveFlagsFirst(args), "DIR"); code >= 0 {
		return code
	}
	dir := fs.Arg(0)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail(exitUsage, "inspect: %s is not a folder: give an extraction output folder (the --out of avbalance extract)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, shard.IndexFile)); errors.Is(err, iofs.ErrNotExist) {
		return fail(exitUsage, "inspect: %s has no %s: it is not an extraction output folder (the --out of avbalance extract)", dir, shard.IndexFile)
	}
	rep, err := shard.Inspect(dir, *verify)
	if err != nil {
		return fail(exitAborted, "inspect: %v", err)
	}
	if *asJSON {
		printJSON(rep)
	} else {
		rep.Print(os.Stdout)
	}
	if len(rep.Problems) > 0 {
		return exitFailures
	}
	return exitOK
}

// moveFlagsFirst lets positional arguments come before flags (`inspect DIR --json`),
// which the flag package alone does not allow.
func moveFlagsFirst(args []string) []string {
	var flags, pos []string
	for _, a := range args {
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}
