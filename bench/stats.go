package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// summary is the median, min and max of a figure over repetitions.
type summary struct {
	med, min, max float64
	n             int
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{med: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

// format renders the summary as "median (min–max)" with f for each number.
func (s summary) format(f func(float64) string) string {
	if s.n == 0 {
		return "n/a"
	}
	if s.n == 1 {
		return f(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.med), f(s.min), f(s.max))
}

// rate formats messages per second.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// dur formats seconds as a duration with 3 significant digits.
func dur(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	}
	return fmt.Sprintf("%dns", d.Nanoseconds())
}

func pct(v float64) string  { return fmt.Sprintf("%.1f%%", 100*v) }
func num(v float64) string  { return fmt.Sprintf("%.0f", v) }
func num2(v float64) string { return fmt.Sprintf("%.2f", v) }
func mib(kb float64) string { return fmt.Sprintf("%.1f MiB", kb/1024) }
