package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/avbalance/avbalance/features/shard"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
)

// StateDir is the folder inside the output folder where the shard step records
// one summary per shard it finished (StateDir/shard-00000.json): what a resumed
// job checks to keep the shard instead of extracting it again. Local temp
// files of shards being written live there too (StateDir/tmp-*). It is not part
// of the extraction folder's contract; delete it once index.json is there.
const StateDir = "_beam"

// shardSummary is all the finalize step learns of a shard: its file (none when
// every clip failed), rows, checksum and failed clips, plus the fingerprints
// that say which job and which clips it was made from. The shard step writes it
// to StateDir after the shard file, so a summary on disk means a complete shard.
type shardSummary struct {
	Index int    `json:"index"` // shard number
	Job   string `json:"job"`   // Config.fingerprint of the job
	Clips string `json:"clips"` // clipsFingerprint of the shard's clips
	pipeline.ShardResult
}

func summaryName(idx int) string { return fmt.Sprintf("shard-%05d.json", idx) }

// clipsFingerprint identifies a shard's clip descriptors (sorted, unique).
func clipsFingerprint(clips []ingest.Clip) (string, error) {
	b, err := json.Marshal(clips)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// readSummary reads the summary recorded for shard idx in out, if any.
func readSummary(ctx context.Context, fs filesystem.Interface, out string, idx int) (*shardSummary, error) {
	b, err := filesystem.Read(ctx, fs, join(join(out, StateDir), summaryName(idx)))
	if err != nil {
		return nil, err
	}
	var s shardSummary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", StateDir, summaryName(idx), err)
	}
	return &s, nil
}

// keptSummary returns the summary recorded in out for the shard want
// describes when it was made by the same job from the same clips and its file
// still has the recorded checksum; else nil (the shard must be extracted).
func keptSummary(ctx context.Context, out string, want shardSummary) (*shardSummary, error) {
	fs, err := filesystem.New(ctx, out)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	got, err := readSummary(ctx, fs, out, want.Index)
	if err != nil || got.Index != want.Index || got.Job != want.Job || got.Clips != want.Clips {
		return nil, nil // none, unreadable or of other clips: extract again
	}
	if got.Info.File == "" {
		return got, nil // every clip failed: there is no file to check
	}
	r, err := fs.OpenRead(ctx, join(out, got.Info.File))
	if err != nil {
		return nil, nil
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return nil, nil
	}
	if hex.EncodeToString(h.Sum(nil)) != got.Info.SHA256 {
		return nil, nil
	}
	return got, nil
}

// checkResumable returns an error when out holds shard summaries of another
// job (other preset, seed or shard count): resuming would replace them all.
func checkResumable(ctx context.Context, out, job string) error {
	fs, err := filesystem.New(ctx, out)
	if err != nil {
		return err
	}
	defer fs.Close()
	found, err := fs.List(ctx, join(join(out, StateDir), "shard-*.json"))
	if err != nil {
		return fmt.Errorf("check %s: %w", out, err)
	}
	for _, f := range found {
		b, err := filesystem.Read(ctx, fs, f)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		var s shardSummary
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("resume: %s: %w", f, err)
		}
		if s.Job != job {
			return fmt.Errorf("%s was extracted with another preset, seed or number of shards (%s; with --shards 0 the number follows the clip count): resume with the same flags and clip list, or choose another --out", out, f)
		}
	}
	return nil
}

// cleanLocalTemp removes the temp files a killed job left in a local output
// folder (shards, summaries and index files being written). Remote folders
// have none: object stores write whole objects and shards are built in the
// worker's own temp folder.
func cleanLocalTemp(out string) error {
	if !isLocal(out) {
		return nil
	}
	state := filepath.Join(out, StateDir)
	dirs, _ := filepath.Glob(filepath.Join(state, "tmp-*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	for _, dir := range []string{out, state} {
		if _, err := shard.CleanTemp(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
