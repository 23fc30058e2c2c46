// Package pipeline is avbalance's streaming extraction engine.
//
// Extract wires ingest → audio/video decode → features → shard writer as
// goroutine stages joined by bounded channels:
//
//	source ──jobs──▶ worker pool (decode + features, one decoder set per worker) ──results──▶ writer
//
// Memory stays bounded whatever the dataset size: at most 2×workers clips are
// in flight and the shard writer flushes Arrow record batches as it goes.
// Every clip of the input ends in exactly one shard row or one line of
// failures.jsonl, across crashes and restarts: shards appear only by atomic
// rename, failure lines are fsynced, and Resume rebuilds the done set from the
// shard files and the failure log themselves, never from index.json alone.
//
// Cancelling the context (SIGINT/SIGTERM in the CLI) stops feeding new clips,
// lets the clips in flight finish and commits the partial shard, so no
// half-written shard is ever left behind.
package pipeline

// Tool names the program version written into index.json.
const Tool = "avbalance 0.1"
