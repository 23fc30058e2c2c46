package attribution

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/avbalance/avbalance/internal/atomicfile"
)

// ClipShares is one clip's attribution result.
type ClipShares struct {
	ClipID    string
	Label     int
	Predicted int
	// Class is the class whose logit was attributed.
	Class  int
	Shares [Modalities]float64
}

// Summary aggregates shares over clips.
type Summary struct {
	Method     string     `json:"method"`
	Norm       string     `json:"norm"`
	Clips      int        `json:"clips"`
	MeanAudio  float64    `json:"mean_audio_share"`
	MeanVideo  float64    `json:"mean_video_share"`
	StdAudio   float64    `json:"std_audio_share"`
	StdVideo   float64    `json:"std_video_share"`
	PerClass   []Category `json:"per_class"`
	Accuracy   float64    `json:"accuracy"`
	Extra      any        `json:"extra,omitempty"`
	SharesFile string     `json:"shares_file"`
}

// Category is the mean audio share of the clips of one true class.
type Category struct {
	Label     int     `json:"label"`
	Name      string  `json:"name,omitempty"`
	Clips     int     `json:"clips"`
	MeanAudio float64 `json:"mean_audio_share"`
}

// MeanStd returns the mean and the population standard deviation of xs.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

// Summarize aggregates per-clip shares; labels names classes (may be nil).
func Summarize(rows []ClipShares, labels []string, method string, norm Norm) Summary {
	a := make([]float64, len(rows))
	v := make([]float64, len(rows))
	correct := 0
	byClass := map[int][]float64{}
	maxLabel := len(labels) - 1
	for i, r := range rows {
		a[i], v[i] = r.Shares[0], r.Shares[1]
		if r.Predicted == r.Label {
			correct++
		}
		byClass[r.Label] = append(byClass[r.Label], r.Shares[0])
		if r.Label > maxLabel {
			maxLabel = r.Label
		}
	}
	s := Summary{Method: method, Norm: norm.String(), Clips: len(rows)}
	s.MeanAudio, s.StdAudio = MeanStd(a)
	s.MeanVideo, s.StdVideo = MeanStd(v)
	if len(rows) > 0 {
		s.Accuracy = float64(correct) / float64(len(rows))
	}
	for c := 0; c <= maxLabel; c++ {
		cat := Category{Label: c, Clips: len(byClass[c])}
		if c < len(labels) {
			cat.Name = labels[c]
		}
		cat.MeanAudio, _ = MeanStd(byClass[c])
		s.PerClass = append(s.PerClass, cat)
	}
	return s
}

// File names of a report folder.
const (
	SharesFile  = "shares.csv"
	SummaryFile = "summary.json"
)

// sharesHeader is the header of shares.csv.
var sharesHeader = []string{"clip_id", "label", "predicted", "class", "audio_share", "video_share"}

// WriteReport writes dir/shares.csv (clip_id,label,predicted,class,audio_share,video_share)
// and dir/summary.json, each through a temporary file renamed into place.
func WriteReport(dir string, rows []ClipShares, s Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("attribution: report dir %s: %w", dir, err)
	}
	csvPath := filepath.Join(dir, SharesFile)
	s.SharesFile = SharesFile
	err := atomicfile.WriteFunc(csvPath, func(f io.Writer) error {
		w := csv.NewWriter(f)
		_ = w.Write(sharesHeader)
		for _, r := range rows {
			_ = w.Write([]string{r.ClipID, strconv.Itoa(r.Label), strconv.Itoa(r.Predicted), strconv.Itoa(r.Class),
				strconv.FormatFloat(r.Shares[0], 'g', 8, 64), strconv.FormatFloat(r.Shares[1], 'g', 8, 64)})
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return err
	}
	return atomicfile.WriteFunc(filepath.Join(dir, SummaryFile), func(f io.Writer) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
}

// ReadShares reads a report folder's shares.csv, as WriteReport wrote it.
func ReadShares(dir string) ([]ClipShares, error) {
	path := filepath.Join(dir, SharesFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attribution: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(sharesHeader)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("attribution: %s: %w", path, err)
	}
	for i, h := range sharesHeader {
		if head[i] != h {
			return nil, fmt.Errorf("attribution: %s: column %d is %q, want %q", path, i+1, head[i], h)
		}
	}
	var out []ClipShares
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("attribution: %s: %w", path, err)
		}
		c := ClipShares{ClipID: rec[0]}
		ints := []*int{&c.Label, &c.Predicted, &c.Class}
		for i, p := range ints {
			if *p, err = strconv.Atoi(rec[1+i]); err != nil {
				return nil, fmt.Errorf("attribution: %s line %d: %s %q is not an integer", path, line, sharesHeader[1+i], rec[1+i])
			}
		}
		for m := range c.Shares {
			if c.Shares[m], err = strconv.ParseFloat(rec[4+m], 64); err != nil {
				return nil, fmt.Errorf("attribution: %s line %d: %s %q is not a number", path, line, sharesHeader[4+m], rec[4+m])
			}
		}
		out = append(out, c)
	}
}

// ReadSummary reads a report folder's summary.json.
func ReadSummary(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		return nil, fmt.Errorf("attribution: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("attribution: %s: %w", filepath.Join(dir, SummaryFile), err)
	}
	return &s, nil
}
