// Package ingest turns a dataset on disk into clip descriptors: for every clip,
// its id, media path(s), label and split. It never opens media; later stages
// (audio, video, features, pipeline) read the Clips it returns.
//
// Three readers share one result type, Dataset:
//
//   - ReadCremaD: CREMA-D (VideoFlash/*.flv, optional AudioWAV/*.wav), labels
//     NEU, HAP, SAD, FEA, DIS, ANG = 0..5, split by speaker (default), from the
//     published train/test lists (OGM-GE protocol), or none.
//   - ReadVGGSound: the vggsound.csv list matched with a folder of
//     <youtube_id>_<start:06d>.mp4 clips.
//   - ReadManifest: any dataset described by a CSV with id, path and label columns.
//
// Errors come in two kinds. A configuration problem (a missing root folder, an
// unreadable or syntactically broken CSV, a missing required column, a bad
// option) is returned as an error and nothing is read. A problem with one clip
// (malformed name, unknown label, listed but missing on disk, duplicate id) is a
// Rejected entry in the Dataset with a reason that names the file and line; it
// goes to the run's failures.jsonl and never stops a run. ClipError is the
// per-clip error later stages use, with the stage that failed.
//
// Splits are deterministic given the inputs and a seed, on every platform and Go
// release (the shuffle is implemented here, not taken from math/rand).
//
// Example:
//
//	ds, err := ingest.ReadCremaD(ingest.CremaDOptions{Root: "/data/CREMA-D", Seed: 1})
//	if err != nil {
//		return err // bad configuration
//	}
//	for _, r := range ds.Rejected {
//		log.Print(r.ClipError()) // clip 1001_DFA_XYZ_XX: ingest ...: unknown emotion code
//	}
//	for _, c := range ds.Clips {
//		fmt.Println(c.ID, ds.Labels[c.Label], c.Split, c.Path)
//	}
package ingest
