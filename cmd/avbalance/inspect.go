package main

import (
	"context"
	"os"

	"github.com/avbalance/avbalance/features/shard"
)

func runInspect(_ context.Context, args []string) int {
	fs := newFlags("inspect", "DIR [--json] [--verify=false]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verify := fs.Bool("verify", true, "recompute every shard's sha256 and check the clip accounting")
	if code := parse(fs, moveFlagsFirst(args)); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	rep, err := shard.Inspect(fs.Arg(0), *verify)
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
