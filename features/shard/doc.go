// Package shard is the on-disk format of extracted features: Arrow IPC files ("shards") of one row
// per clip, the index.json that lists them with the feature configuration, and failures.jsonl for the
// clips that could not be extracted.
//
// # Format
//
// A shard is an Arrow IPC file (the random-access "file" format with a footer, not a stream),
// uncompressed, with one or more record batches and this schema (schema metadata
// "avbalance.schema_version" = "1"):
//
//	clip_id     utf8
//	label       int32                               index into index.json "labels"
//	split       utf8                                "train", "val", "test", …
//	audio       fixed_size_list<float32>[prod(S)]   field metadata "shape" = S, e.g. "128,300" (row-major)
//	frames      fixed_size_binary[N*H*W*3]          field metadata "shape" = "N,H,W,3", RGB24 uint8
//	duration_s  float32                             clip duration in seconds
//	source      utf8                                media path the row was extracted from
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
// that were committed.
//
//	w, err := shard.NewWriter(out, shard.ShardName(0), p.AudioShape(), p.FrameShape())
//	if err != nil { … }
//	defer w.Abort() // no-op after a successful Commit
//	for … { if err := w.Append(shard.Row{ClipID: id, Label: l, Audio: a, Frames: f, …}); err != nil { … } }
//	info, err := w.Commit()
//
// # Reading from Go
//
// Open memory-maps a shard and validates it; rows and batches are then served without copying:
// the slices alias the map and stay valid until Close.
//
//	r, err := shard.Open("out/shard-00000.arrow")
//	if err != nil { … }
//	defer r.Close()
//	shape := r.AudioShape() // [128 300]
//	for b := 0; b < r.NumBatches(); b++ {
//		bt := r.Batch(b) // bt.Audio: bt.Rows×128×300 float32, bt.Frames: bt.Rows×N×H×W×3 bytes
//		…
//	}
//	row := r.Row(0) // row.Audio, row.Frames alias the map
//
// Record gives the raw arrow.RecordBatch for code that works with Arrow directly; any Arrow
// implementation can read a shard (arrow-go's ipc.NewFileReader, pyarrow, arrow-rs, …).
//
// # Reading from Python
//
// With pyarrow and numpy (for the README):
//
//	import json, numpy as np, pyarrow as pa, pyarrow.ipc
//
//	with pa.memory_map("out/shard-00000.arrow") as src:
//	    table = pa.ipc.open_file(src).read_all()      # zero-copy over the map
//	audio_field = table.schema.field("audio")
//	frames_field = table.schema.field("frames")
//	a_shape = [int(d) for d in audio_field.metadata[b"shape"].split(b",")]   # [128, 300]
//	f_shape = [int(d) for d in frames_field.metadata[b"shape"].split(b",")]  # [N, H, W, 3]
//	n = table.num_rows
//	audio = (table.column("audio").combine_chunks().flatten()
//	         .to_numpy().reshape([n] + a_shape))                            # float32 [n,128,300]
//	frames = np.frombuffer(table.column("frames").combine_chunks().buffers()[1],
//	                       dtype=np.uint8)[: n * np.prod(f_shape)].reshape([n] + f_shape)
//	labels = table.column("label").to_numpy()
//	names = json.load(open("out/index.json"))["labels"]
package shard
