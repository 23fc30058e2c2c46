package extract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"strings"
	"time"

	"github.com/avbalance/avbalance/features"
	"github.com/avbalance/avbalance/ingest"
	"github.com/avbalance/avbalance/pipeline"
)

// Config describes one extraction job on Beam.
type Config struct {
	// Input says how to read the clip list. It is read twice with the same
	// ingest readers: once by the launcher, to fail fast on a bad configuration
	// and to size the job, and once inside the pipeline, so a large list is not
	// embedded in the job graph. Paths must therefore be valid on the workers too.
	Input  ingest.Input
	Preset features.Preset // stored whole in index.json
	// Out is the output folder on any Beam filesystem: /local/dir, gs://bucket/dir, s3://bucket/dir.
	// It must hold no earlier results unless Resume is set.
	Out string
	// Shards is the number of shard files N (a clip goes to shard hash(id) mod N);
	// 0 sizes them like the local pipeline, about 256 MB each.
	Shards int
	Seed   ingest.Seed // seeds the random crops of presets that crop (with the clip id), as pipeline.Config.Seed
	// Workers is how many clips one shard step decodes at once, each with its
	// own decoders. Runners that run many DoFn instances per machine (Flink
	// task slots, Dataflow harness threads) want 1; prism hands a stage's whole
	// input to one instance, so there it should be the number of CPUs
	// (DefaultWorkers).
	Workers int
	// ClipTimeout bounds each clip on the workers exactly as
	// pipeline.Config.ClipTimeout does locally (0: pipeline.DefaultClipTimeout,
	// negative: no limit), with the same watchdog.
	ClipTimeout time.Duration
	// Resume continues a job that stopped before it finished: shards whose file
	// holds the checksum recorded in their summary (StateDir) are kept, the
	// others extracted again. Without it Out must hold no earlier results.
	Resume bool
}

// DefaultWorkers is the Config.Workers for a runner: one per CPU on prism, where
// one DoFn instance gets a whole stage, else 1.
func DefaultWorkers(runner string) int {
	switch strings.ToLower(runner) {
	case "", "prism", "prismrunner":
		return runtime.NumCPU()
	}
	return 1
}

// Validate checks the configuration and says what to change.
func (c *Config) Validate() error {
	switch {
	case c.Out == "":
		return errors.New("no output folder given: set --out")
	case c.Shards < 0:
		return fmt.Errorf("shards must be ≥ 0 (0 = automatic), got %d", c.Shards)
	case c.Workers < 0:
		return fmt.Errorf("workers must be ≥ 0, got %d", c.Workers)
	}
	return c.Preset.Validate()
}

// ShardCount is the number of shards for clips clips: c.Shards when set, else
// enough shards of about 256 MB (as the local pipeline cuts them) to hold them.
func (c *Config) ShardCount(clips int) int {
	if c.Shards > 0 {
		return c.Shards
	}
	per := pipeline.AutoShardRows(c.Preset)
	return max(1, (clips+per-1)/per)
}

// fingerprint identifies what decides a shard's bytes besides its clips: the
// preset, the seed and the number of shards. A shard recorded under another
// fingerprint is never kept by a resumed job.
func (c *Config) fingerprint(shards int) (string, error) {
	b, err := json.Marshal(struct {
		Preset features.Preset `json:"preset"`
		Seed   ingest.Seed     `json:"seed"`
		Shards int             `json:"shards"`
	}{c.Preset, c.Seed, shards})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ShardOf is the shard a clip goes to: FNV-1a 64 of its id, mod n.
func ShardOf(clipID string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(clipID))
	return int(h.Sum64() % uint64(n))
}

// join appends a file name to a folder on any Beam filesystem ("/" separated).
func join(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// isLocal reports whether dir is on the local filesystem (no scheme://).
func isLocal(dir string) bool { return !strings.Contains(dir, "://") }
