package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// benchLine matches a BenchmarkPlacementGrid result line.
var benchLine = regexp.MustCompile(`^BenchmarkPlacementGrid/tasks=(\d+)/offers=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

// placementSection runs BenchmarkPlacementGrid (bench_placement_test.go in
// the root package: the planner is unexported) in a go test subprocess.
func (b *bench) placementSection() {
	cfg := b.cfg
	join := func(xs []int) string {
		var s []string
		for _, x := range xs {
			s = append(s, strconv.Itoa(x))
		}
		return strings.Join(s, "|")
	}
	pat := "^BenchmarkPlacementGrid$/^tasks=(" + join(cfg.placeTasks) + ")$/^offers=(" + join(cfg.placeOffers) + ")$"
	args := []string{"test", "-run", "^$", "-bench", pat,
		"-benchtime", cfg.benchtime, "-count", strconv.Itoa(cfg.reps), "."}
	b.logf("go %s", strings.Join(args, " "))
	cmd := exec.Command("go", args...)
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("placement benchmark: %v\n%s", err, out)
	}
	type key struct{ tasks, offers int }
	ns := map[key][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		t, _ := strconv.Atoi(m[1])
		o, _ := strconv.Atoi(m[2])
		v, _ := strconv.ParseFloat(m[3], 64)
		ns[key{t, o}] = append(ns[key{t, o}], v)
	}
	s := &section{
		title: "4. Placement: `planPlacement` (offers.go)",
		intro: fmt.Sprintf("`go test -run '^$' -bench BenchmarkPlacementGrid -benchtime %s -count %d` (bench_placement_test.go): "+
			"4 task types, two offers per agent, capacity 1.25x the demand (at least two tasks per offer). "+
			"*growth*: time ÷ time of the smallest task count with the same offers, against n log n's ratio.",
			cfg.benchtime, cfg.reps),
		header: []string{"Tasks", "Offers", "time per plan", "ns per task", "growth (n log n bound)"},
	}
	for _, o := range cfg.placeOffers {
		for _, t := range cfg.placeTasks {
			sm := summarize(ns[key{t, o}])
			per := summarize(scale(ns[key{t, o}], 1/float64(t)))
			growth := ""
			if t0 := cfg.placeTasks[0]; t != t0 {
				base := summarize(ns[key{t0, o}]).med
				nlogn := float64(t) * math.Log2(float64(t)) / (float64(t0) * math.Log2(float64(t0)))
				growth = fmt.Sprintf("%.1fx (%.0fx)", sm.med/base, nlogn)
			}
			s.rows = append(s.rows, []string{fmt.Sprint(t), fmt.Sprint(o), sm.format(func(v float64) string { return dur(v / 1e9) }),
				per.format(num), growth})
		}
	}
	b.sections = append(b.sections, s)

	big := summarize(ns[key{10000, 1000}])
	if big.n > 0 {
		b.targets = append(b.targets, target{"placement of 10,000 tasks over 1,000 offers within 50 ms",
			big.format(func(v float64) string { return dur(v / 1e9) }), big.med <= 50e6})
	}
	if len(cfg.placeTasks) > 1 {
		worst, worstAt := 0.0, ""
		ok := true
		for _, o := range cfg.placeOffers {
			t0, t1 := cfg.placeTasks[0], cfg.placeTasks[len(cfg.placeTasks)-1]
			g := summarize(ns[key{t1, o}]).med / summarize(ns[key{t0, o}]).med
			bound := float64(t1) * math.Log2(float64(t1)) / (float64(t0) * math.Log2(float64(t0)))
			if g/bound > worst {
				worst, worstAt = g/bound, fmt.Sprintf("%d offers: %.1fx vs n log n %.0fx", o, g, bound)
			}
			ok = ok && g <= bound
		}
		b.targets = append(b.targets, target{"placement grows no worse than n log n (100 → 10,000 tasks)", worstAt + " (worst)", ok})
	}
}

func scale(xs []float64, f float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}
