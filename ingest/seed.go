package ingest

import "strconv"

// Seed makes a run reproducible: it fixes the splits and random crops of an
// extraction, the clips of a generated set, and the initialisation,
// shuffling and noise of a training. Every package takes the same type, so
// a seed passes from one step to the next unconverted; 0 is a valid seed.
type Seed uint64

func (s Seed) String() string { return strconv.FormatUint(uint64(s), 10) }

// Set implements flag.Value.
func (s *Seed) Set(v string) error {
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		return err
	}
	*s = Seed(n)
	return nil
}
