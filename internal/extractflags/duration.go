package extractflags

import (
	"errors"
	"flag"
	"strconv"
	"time"
)

// Duration defines a flag holding a time.Duration ≥ 0, like flag.Duration, but one whose
// parse error tells how to write a duration: a number without a unit ("5") says to write
// "5s" or "2m" instead of flag's bare "parse error".
func Duration(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	d := durationValue(value)
	fs.Var(&d, name, usage)
	return (*time.Duration)(&d)
}

type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return errors.New("a duration needs a unit: write it as 5s, 90s or 2m (s, m, h; also ms)")
		}
		return errors.New("not a duration: write it as 5s, 90s or 2m (s, m, h; also ms)")
	}
	if v < 0 {
		return errors.New("must be ≥ 0")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }
