package scale

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The measured inputs of a scale run, shipped with the code (see the
// header of each file for the source and the reduction):
//
//   - data/rtt-wondernetwork-2020.csv: quantiles of wide-area RTTs between
//     WonderNetwork servers (WonderProxy, "A day in the life of the
//     Internet", 2020);
//   - data/churn-stutzbach-rejaie-2006.csv: Weibull fits of BitTorrent
//     session lengths (Stutzbach & Rejaie, IMC 2006).
//
//go:embed data/*.csv
var dataFS embed.FS

// Data file names inside dataFS.
const (
	RTTFile   = "data/rtt-wondernetwork-2020.csv"
	ChurnFile = "data/churn-stutzbach-rejaie-2006.csv"
)

// ErrBadData is wrapped by every data-file parse error.
var ErrBadData = errors.New("scale: bad data file")

// maxDataLines bounds a data file (the shipped ones have a few hundred).
const maxDataLines = 10000

// RTTTable is an empirical RTT distribution given by its quantile function
// at increasing probabilities P (0 and 1 included) with values MS.
type RTTTable struct {
	P  []float64
	MS []float64
}

// LoadRTT parses the shipped RTT quantile table.
func LoadRTT() (*RTTTable, error) {
	b, err := dataFS.ReadFile(RTTFile)
	if err != nil {
		return nil, err
	}
	return ParseRTT(b)
}

// ParseRTT parses "p,rtt_ms" rows (comments start with #, one header row).
// p must rise strictly from 0 to 1 and rtt_ms must not fall.
func ParseRTT(b []byte) (*RTTTable, error) {
	rows, err := csvRows(b, 2)
	if err != nil {
		return nil, err
	}
	t := &RTTTable{}
	for i, r := range rows {
		p, err1 := strconv.ParseFloat(r[0], 64)
		ms, err2 := strconv.ParseFloat(r[1], 64)
		switch {
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf("%w: row %d: %q", ErrBadData, i+1, strings.Join(r, ","))
		case !(p >= 0 && p <= 1) || !(ms >= 0) || math.IsInf(ms, 0):
			return nil, fmt.Errorf("%w: row %d: p %v or rtt %v out of range", ErrBadData, i+1, p, ms)
		case i > 0 && (p <= t.P[i-1] || ms < t.MS[i-1]):
			return nil, fmt.Errorf("%w: row %d: not increasing", ErrBadData, i+1)
		}
		t.P, t.MS = append(t.P, p), append(t.MS, ms)
	}
	if len(t.P) < 2 || t.P[0] != 0 || t.P[len(t.P)-1] != 1 {
		return nil, fmt.Errorf("%w: quantiles must run from p=0 to p=1", ErrBadData)
	}
	return t, nil
}

// Quantile returns the RTT at probability u in [0,1] (linear between the
// table's points): the inverse-CDF draw of a uniform u.
func (t *RTTTable) Quantile(u float64) time.Duration {
	u = math.Min(1, math.Max(0, u))
	i := sort.SearchFloat64s(t.P, u)
	if i == 0 {
		return msDur(t.MS[0])
	}
	if i >= len(t.P) {
		return msDur(t.MS[len(t.MS)-1])
	}
	p0, p1 := t.P[i-1], t.P[i]
	f := (u - p0) / (p1 - p0)
	return msDur(t.MS[i-1] + f*(t.MS[i]-t.MS[i-1]))
}

// MedianMS is the table's median RTT in milliseconds.
func (t *RTTTable) MedianMS() float64 { return float64(t.Quantile(0.5)) / float64(time.Millisecond) }

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// Weibull is a session-length distribution F(t) = 1 - exp(-(t/λ)^k).
type Weibull struct {
	Name     string  `json:"name"`
	System   string  `json:"system"`
	Shape    float64 `json:"shape"`     // k
	ScaleMin float64 `json:"scale_min"` // λ, minutes
}

// LoadChurn parses the shipped session-length fits.
func LoadChurn() ([]Weibull, error) {
	b, err := dataFS.ReadFile(ChurnFile)
	if err != nil {
		return nil, err
	}
	return ParseChurn(b)
}

// ParseChurn parses "name,system,shape,scale_min" rows.
func ParseChurn(b []byte) ([]Weibull, error) {
	rows, err := csvRows(b, 4)
	if err != nil {
		return nil, err
	}
	var out []Weibull
	for i, r := range rows {
		k, err1 := strconv.ParseFloat(r[2], 64)
		l, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || !(k > 0 && k < 20) || !(l > 0 && l < 1e7) || r[0] == "" {
			return nil, fmt.Errorf("%w: row %d: %q", ErrBadData, i+1, strings.Join(r, ","))
		}
		out = append(out, Weibull{Name: r[0], System: r[1], Shape: k, ScaleMin: l})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no churn profiles", ErrBadData)
	}
	return out, nil
}

// ChurnProfile returns the named fit from the shipped data.
func ChurnProfile(name string) (Weibull, error) {
	all, err := LoadChurn()
	if err != nil {
		return Weibull{}, err
	}
	var names []string
	for _, w := range all {
		if w.Name == name {
			return w, nil
		}
		names = append(names, w.Name)
	}
	return Weibull{}, fmt.Errorf("scale: unknown churn profile %q (have %s)", name, strings.Join(names, ", "))
}

// csvRows returns the data rows (after comments and the header) with
// exactly n fields each.
func csvRows(b []byte, n int) ([][]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	var rows [][]string
	header := true
	lines := 0
	for sc.Scan() {
		if lines++; lines > maxDataLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrBadData, maxDataLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != n {
			return nil, fmt.Errorf("%w: line %d has %d fields, want %d", ErrBadData, lines, len(f), n)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		rows = append(rows, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadData, err)
	}
	return rows, nil
}
