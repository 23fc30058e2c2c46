// Package extract is avbalance's extraction job as an Apache Beam pipeline: the
// same clips, the same decoders and feature code (pipeline.Worker) and the same
// output folder (shard-*.arrow, index.json, failures.jsonl) as pipeline.Extract,
// written to any Beam filesystem (a local folder, gs://…, s3://…) by any Beam
// runner (prism in-process, Flink, Spark, Dataflow).
//
// The pipeline:
//
//	Impulse ─▶ read clip list (ingest readers) ─┬─▶ clips ─▶ Reshuffle ─▶ extract (pipeline.Worker per DoFn)
//	                                            │                            │ rows keyed by shard │ failures
//	                                            │                            ▼                     │
//	                                            │           GroupByKey(shard) ─▶ write shard       │
//	                                            │                                  │ ShardInfo     │
//	                                            └─▶ rejected rows ─────────────────┼───────────────┤
//	                                                                               ▼               ▼
//	                               Impulse ─▶ finalize: failures.jsonl (sorted by clip id), then index.json
//
// Output is deterministic: a clip goes to shard hash(clip id) mod N, rows
// within a shard are sorted by clip id, and each shard is written whole under
// its final name (a temp file and a rename on local disk; one atomic object
// write on object stores), so a retried or speculative bundle writes the same
// bytes to the same name and never duplicates or loses a clip. A shard index
// that no clip hashes to has no file; index.json lists the files there are.
//
// Unlike pipeline.Extract, the local run, whose shards fill in completion order,
// the row order here does not depend on scheduling: two runs over the same input
// and configuration give byte-identical shards and failures.jsonl (index.json
// differs only in its "created" time).
package extract
