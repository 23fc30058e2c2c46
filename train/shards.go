package train

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/avbalance/avbalance/features/shard"
)

// ShardExamples reads every shard listed in an extraction folder's index.json
// through memory-mapped readers.
type ShardExamples struct {
	dir     string
	index   *shard.Index
	labels  []string
	readers []*shard.Reader
	starts  []int // first global row of each reader, plus the total
}

// OpenShards opens dir/index.json and its shards. Close releases the maps.
func OpenShards(dir string) (*ShardExamples, error) {
	ix, err := shard.ReadIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("train: shards %s: %w", dir, err)
	}
	if len(ix.Shards) == 0 {
		return nil, fmt.Errorf("train: shards %s: index.json lists no shards; run extract first", dir)
	}
	s := &ShardExamples{dir: dir, index: ix, labels: ix.Labels, starts: []int{0}}
	for _, info := range ix.Shards {
		r, err := shard.Open(filepath.Join(dir, info.File))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("train: shards %s: %w", dir, err)
		}
		if len(s.readers) > 0 && (!slices.Equal(r.AudioShape(), s.readers[0].AudioShape()) ||
			!slices.Equal(r.FrameShape(), s.readers[0].FrameShape())) {
			r.Close()
			s.Close()
			return nil, fmt.Errorf("train: shards %s: %s has shapes %v/%v, %s has %v/%v", dir, info.File,
				r.AudioShape(), r.FrameShape(), ix.Shards[0].File, s.readers[0].AudioShape(), s.readers[0].FrameShape())
		}
		s.readers = append(s.readers, r)
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+r.NumRows())
	}
	if len(s.labels) == 0 {
		s.Close()
		return nil, fmt.Errorf("train: shards %s: index.json has no labels", dir)
	}
	return s, nil
}

// Len implements Examples.
func (s *ShardExamples) Len() int { return s.starts[len(s.starts)-1] }

// AudioShape implements Examples.
func (s *ShardExamples) AudioShape() []int { return s.readers[0].AudioShape() }

// FrameShape implements Examples.
func (s *ShardExamples) FrameShape() []int { return s.readers[0].FrameShape() }

// Labels implements Examples.
func (s *ShardExamples) Labels() []string { return s.labels }

// Example implements Examples; Audio and Frames alias the maps.
func (s *ShardExamples) Example(i int) (Example, error) {
	if i < 0 || i >= s.Len() {
		return Example{}, fmt.Errorf("row %d out of range [0,%d)", i, s.Len())
	}
	k := sort.SearchInts(s.starts, i+1) - 1
	r := s.readers[k].Row(i - s.starts[k])
	return Example{ClipID: r.ClipID, Label: int(r.Label), Split: r.Split, Audio: r.Audio, Frames: r.Frames}, nil
}

// Evict drops row i's audio and frames from the resident set (see
// shard.Reader.Evict); the loader calls it once a row is copied.
func (s *ShardExamples) Evict(i int) {
	if i < 0 || i >= s.Len() {
		return
	}
	k := sort.SearchInts(s.starts, i+1) - 1
	s.readers[k].Evict(i - s.starts[k])
}

// Identity is the folder's preset, shapes, labels and a fingerprint of its
// content (preset, labels, and every shard's name, rows and checksum).
func (s *ShardExamples) Identity() DataIdentity {
	return DataIdentity{Preset: s.index.Preset, AudioShape: s.AudioShape(), FrameShape: s.FrameShape(), Labels: s.labels,
		Fingerprint: fingerprint(s.index.Preset, s.index.Labels, s.index.Shards)}
}

// Close unmaps every shard.
func (s *ShardExamples) Close() error {
	var errs []error
	for _, r := range s.readers {
		errs = append(errs, r.Close())
	}
	s.readers = nil
	return errors.Join(errs...)
}
