package localmesos

import (
	"strconv"
	"time"
)

// stoutDuration formats d as stout's Duration stream operator does (what
// Mesos puts in MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD and its other duration
// variables): the largest unit the duration reaches, unless the next
// smaller one gives a whole number, with 15 significant digits: "5secs",
// "1mins", "1500ms", "100ms". libmesos executors parse this format; Go's
// ("5s") they reject.
func stoutDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	ns := int64(d)
	const (
		us   = int64(time.Microsecond)
		ms   = int64(time.Millisecond)
		sec  = int64(time.Second)
		min  = int64(time.Minute)
		hr   = int64(time.Hour)
		day  = 24 * hr
		week = 7 * day
	)
	f := func(unit int64, name string) string {
		return sign + strconv.FormatFloat(float64(ns)/float64(unit), 'g', 15, 64) + name
	}
	// pick returns the bucket's unit, or the smaller one when the duration
	// is a whole number of that but not of the bucket's.
	pick := func(unit, smaller int64, name, smallerName string) string {
		if ns%unit != 0 && ns%smaller == 0 {
			return f(smaller, smallerName)
		}
		return f(unit, name)
	}
	switch {
	case ns < us:
		return f(1, "ns")
	case ns < ms:
		return pick(us, 1, "us", "ns")
	case ns < sec:
		if ns%ms != 0 && ns%us == 0 {
			return f(us, "us")
		}
		return f(ms, "ms")
	case ns < min:
		return pick(sec, ms, "secs", "ms")
	case ns < hr:
		return pick(min, sec, "mins", "secs")
	case ns < day:
		return pick(hr, min, "hrs", "mins")
	case ns < week:
		return pick(day, hr, "days", "hrs")
	}
	return pick(week, day, "weeks", "days")
}
