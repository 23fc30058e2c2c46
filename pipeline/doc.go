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
//
// Each clip has a deadline (Config.ClipTimeout, 60 s by default): decoding stops
// between packets and FFmpeg's blocking reads are interrupted, and the clip fails
// at its stage with "deadline exceeded after 60s". A decoder stuck where no
// deadline reaches (a read blocked in the kernel) is abandoned by a watchdog soon
// after the deadline and its worker replaced, so one bad file never hangs the run.
// (The ingest readers refuse named pipes and other non-regular files up front.)
//
// A resume checks that the folder was started with the same preset and the same
// clip list (index.json's clip_list fingerprint) and refuses otherwise with a
// *ConfigError that says what differs; so are the other configuration problems. Clip ids that are not UTF-8 are
// stored escaped (\xHH) in shards and failures.jsonl alike, so resume sees them.
package pipeline

// Tool names the program version written into index.json.
const Tool = "avbalance 0.1"
