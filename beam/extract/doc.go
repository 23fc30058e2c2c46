// Package extract is avbalance's extraction job as an Apache Beam pipeline: the
// same clips, the same decoders, feature code and shard writer
// (pipeline.ExtractShard, with the local pipeline's per-clip deadline and
// watchdog) and the same output folder (shard-*.arrow, index.json,
// failures.jsonl) as pipeline.Extract, written to any Beam filesystem (a local
// folder, gs://…, s3://…) by any Beam runner (prism in-process or as a job
// server, Flink, Spark, Dataflow).
//
// The pipeline:
//
//	Impulse ─▶ read clip list (ingest readers) ─┬─▶ (shard, clip descriptor) ─▶ GroupByKey(shard)
//	                                            │        ─▶ extract shard: decode, features, write shard-NNNNN.arrow,
//	                                            │           record _beam/shard-NNNNN.json ─▶ summary (file, rows, sha256, failures)
//	                                            └─▶ rejected rows ──────────────────────────────┐     │
//	                                                                                            ▼     ▼
//	                               Impulse ─▶ finalize: failures.jsonl (sorted by clip id), then index.json
//
// Only clip descriptors (a few hundred bytes each) and one summary per shard
// cross the shuffle; features never leave the worker that extracts them, so the
// job's memory and shuffle volume do not grow with the feature size. A worker
// process extracts at most CPUs ÷ Config.Workers shards at once, whatever the
// runner's bundle parallelism.
//
// Output is deterministic: a clip goes to shard hash(clip id) mod N, rows
// within a shard are sorted by clip id, and each shard is written whole under
// a temp name and then its final name (a rename on local disk; one atomic
// object write on object stores), so a retried or speculative bundle writes the
// same bytes to the same name and never duplicates or loses a clip. A shard
// index whose clips all failed, or that no clip hashes to, has no file;
// index.json lists the files there are. Two runs over the same input and
// configuration give byte-identical shards and failures.jsonl (index.json
// differs only in its "created" time), unlike the local run, whose shards fill
// in completion order.
//
// A shard's summary is recorded in StateDir after its file: a rerun with
// Config.Resume keeps every shard whose file still has the recorded checksum
// and was made by the same job from the same clips, and extracts the others.
package extract
