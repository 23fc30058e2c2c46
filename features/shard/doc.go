// Package shard is the on-disk format of extracted features: Arrow IPC files ("shards") of one row
// per clip, the index.json that lists them with the feature configuration, and failures.jsonl for the
// clips that could not be extracted.
//
// # Format
//
// A shard is an Arrow IPC file (the random-access "file" format with a footer, not a stream),
// uncompressed, with one or more record batches and this schema (schema metadata
// "avbalance.schema_version" = "2"; version 1, without notes, is still read):
//
//	clip_id     utf8
//	label       int32                               index into index.json "labels"
//	split       utf8                                "train", "val", "test", …
//	audio       fixed_size_list<float32>[prod(S)]   field metadata "shape" = S, e.g. "128,300" (row-major)
//	frames      fixed_size_binary[N*H*W*3]          field metadata "shape" = "N,H,W,3", RGB24 uint8
//	duration_s  float32                             clip duration in seconds
//	source      utf8                                name of the dataset the clip comes from
//	notes       utf8                                what was done to the clip ("display: …", "duration: …"), "; "-separated; mostly empty
//
// An extraction folder holds shard-00000.arrow, shard-00001.arrow, …, index.json (see Index) and
// failures.jsonl (see Failure). Every clip of the input is in exactly one shard row or one failure
// line; Verify checks that, the hashes and the counts.
//
// # Writing
//
// A Writer copies each row's audio and frames into flat column buffers (reused from batch to batch
// and from one Writer to the next) and writes a record batch every DefaultBatchRows rows or
// DefaultBatchBytes (16 MB: large enough that per-batch costs vanish, small enough that the buffers
// do not dominate an extraction's memory), so its memory stays at about one batch. It writes name+".tmp", hashes the bytes
// as it writes them, and Commit fsyncs, renames to the final name and fsyncs the folder: a shard file
// that exists is complete. After a crash, CleanTemp removes the leftovers and Scan lists the shards
// that were committed. The package example writes a shard and reads it back.
//
// # Reading from Go
//
// Open memory-maps a shard and validates it; rows (Row) and record batches (Batch: Audio is
// Rows×prod(AudioShape) float32, Frames Rows×N×H×W×3 bytes) are then served without copying: the
// slices alias the map and stay valid until Close.
//
// Record gives the raw arrow.RecordBatch for code that works with Arrow directly; any Arrow
// implementation can read a shard (arrow-go's ipc.NewFileReader, pyarrow, arrow-rs, …).
//
// # Reading from Python
//
// pyarrow reads a shard with pyarrow.ipc.open_file over a memory map; the field metadata "shape"
// gives the shapes to reshape the flat columns to (README.md has the snippet).
package shard
