package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// spread summarises the rounds of one figure: their median and their range.
type spread struct {
	median, min, max float64
}

// summarize returns the median (the mean of the middle two for an even count), the
// least and the greatest of xs; all zero for none.
func summarize(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{median: med, min: s[0], max: s[n-1]}
}

// format prints the median, and the range after it when there is one, in the table's
// compact form: "435 (402–470)". prec is the number of decimals.
func (s spread) format(prec int) string {
	med := fmt.Sprintf("%.*f", prec, s.median)
	lo, hi := fmt.Sprintf("%.*f", prec, s.min), fmt.Sprintf("%.*f", prec, s.max)
	if lo == hi {
		return med
	}
	return fmt.Sprintf("%s (%s–%s)", med, lo, hi)
}

// series is one row of the table over the rounds: each round adds a Cerulean
// measurement and the baseline measured next to it, so that a slow spell of the shared
// machine hits both sides of the ratio.
type series struct {
	cerulean, baseline []measured
}

func (s *series) add(cerulean, baseline measured) {
	s.cerulean = append(s.cerulean, cerulean)
	s.baseline = append(s.baseline, baseline)
}

// values returns the figures of ms in order.
func values(ms []measured) []float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = m.value
	}
	return v
}

// ratios returns the per-round ratios Cerulean ÷ baseline, skipping rounds without a
// baseline figure.
func (s *series) ratios() []float64 {
	var r []float64
	for i := range min(len(s.cerulean), len(s.baseline)) {
		if b := s.baseline[i].value; b > 0 {
			r = append(r, s.cerulean[i].value/b)
		}
	}
	return r
}

// totalUse is what the measurements cost altogether: the cores kept busy on average
// over all of them (CPU time over wall time), the largest sampled RSS and the last VmHWM.
func totalUse(ms []measured) usage {
	var u usage
	var server, client, other float64 // core-seconds
	for _, m := range ms {
		sec := m.use.Elapsed.Seconds()
		server += m.use.Server * sec
		client += m.use.Client * sec
		other += m.use.Other * sec
		u.Elapsed += m.use.Elapsed
		u.rss = max(u.rss, m.use.rss)
		u.hwm = max(u.hwm, m.use.hwm)
	}
	if sec := u.Elapsed.Seconds(); sec > 0 {
		u.Server, u.Client, u.Other = server/sec, client/sec, other/sec
	}
	return u
}

// medianLatency is the median over the rounds of each percentile of request loops; ok
// is false when some measurement was not a request loop.
func medianLatency(ms []measured) (p50, p99 time.Duration, ok bool) {
	if len(ms) == 0 {
		return 0, 0, false
	}
	var a, b []float64
	for _, m := range ms {
		if m.load == nil {
			return 0, 0, false
		}
		a = append(a, float64(m.load.p50))
		b = append(b, float64(m.load.p99))
	}
	return time.Duration(summarize(a).median), time.Duration(summarize(b).median), true
}

// roundFigure names one row's figures in a round's progress line.
type roundFigure struct {
	name string
	s    *series
}

// printRound prints the figures the rows got in round k (from 0) of n, Cerulean against
// baseline, so that the rounds behind each median can be read as the run goes.
func printRound(w io.Writer, k, n int, unit string, figs ...roundFigure) {
	parts := make([]string, 0, len(figs))
	for _, f := range figs {
		c, b := f.s.cerulean[len(f.s.cerulean)-1], f.s.baseline[len(f.s.baseline)-1]
		parts = append(parts, fmt.Sprintf("%s %.0f/%.0f", f.name, c.value, b.value))
	}
	fmt.Fprintf(w, "  round %d/%d (cerulean/baseline %s): %s\n", k+1, n, unit, strings.Join(parts, ", "))
}
