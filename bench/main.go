// Command bench measures mesosgot side by side with its baselines and
// writes the results to BENCHMARKS.md:
//
//	go run ./bench                      # full table (about ten minutes)
//	go run ./bench -quick               # reduced table (about two minutes; writes no file unless -out)
//	go run ./bench -reps 7 -out FILE    # more repetitions, another file
//
// Every figure is the median (min–max) over -reps repetitions, and every
// mesosgot row is measured in the same run as its baseline: plain Go
// channels, and raw mesos-go SendFrameworkMessage over localmesos. The last
// line printed is
//
//	headline: local-speedup=<x.xx> fake-overhead=<y.yy> bulk-ratio=<z.zz> hello-ms=<w>
//
// (mesosgot over localmesos msgs/s ÷ raw SendFrameworkMessage msgs/s, and
// mesosgot over the fake cluster cost per message ÷ plain channel cost per
// message, both for 16-byte echo with the largest task count measured;
// MB/s of 1 MiB messages from 8 tasks to the scheduler over localmesos ÷
// MB/s of a sequential loop of 1 MiB HTTP POSTs over loopback; a 1-task,
// 1-message job's Run() time in ms; all medians).
package main

import (
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// config is the size of a run.
type config struct {
	quick       bool
	reps        int
	ns          []int // task counts of the echo rows
	sizes       []int // message sizes of the echo rows
	warm, dur   time.Duration
	latSamples  int
	startAgents []int
	startTasks  []int
	startReps   int
	placeTasks  []int
	placeOffers []int
	benchtime   string
	floodN      int
	bulkTotal   int64 // bytes of one one-way bulk repetition
	scale       []scalePoint
}

func fullConfig(reps int) config {
	return config{
		reps: reps, ns: []int{1, 8, 64}, sizes: []int{16, 4096},
		warm: 300 * time.Millisecond, dur: time.Second, latSamples: 500,
		startAgents: []int{1, 10}, startTasks: []int{1, 10, 100}, startReps: reps,
		placeTasks: []int{100, 1000, 10000}, placeOffers: []int{10, 100, 1000}, benchtime: "20x",
		floodN: 1_000_000, bulkTotal: 256 << 20,
		scale: []scalePoint{{100, 1}, {1000, 10}, {10000, 100}},
	}
}

func quickConfig(reps int) config {
	return config{
		quick: true, reps: reps, ns: []int{1, 64}, sizes: []int{16},
		warm: 100 * time.Millisecond, dur: 300 * time.Millisecond, latSamples: 100,
		startAgents: []int{10}, startTasks: []int{100}, startReps: 2,
		placeTasks: []int{10000}, placeOffers: []int{1000}, benchtime: "5x",
		floodN: 100_000, bulkTotal: 64 << 20,
		scale: []scalePoint{{1000, 10}},
	}
}

//go:embed analysis.md
var analysis string

func main() {
	if os.Getenv(childEnv) == "flood" {
		floodChild()
		return
	}
	if os.Getenv(childEnv) == "bulkrss" {
		bulkRSSChild()
		return
	}
	if os.Getenv(childEnv) == "scale" {
		scaleChild()
		return
	}
	quick := flag.Bool("quick", false, "run the reduced table (about two minutes)")
	out := flag.String("out", "BENCHMARKS.md", "file to write the report to (empty: none; -quick writes none unless -out is given)")
	reps := flag.Int("reps", 0, "repetitions of every figure (default 5, -quick 3)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (scheduler, fake cluster, localmesos) to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile of this process to this file at the end")
	only := flag.String("only", "", "comma-separated sections to run: echo,start,placement,memory,bulk,hello,scale (default all)")
	paths := flag.String("paths", "", "comma-separated echo paths to run: plain,fake,raw,local (default all; for profiling)")
	bulk := flag.String("bulksizes", "", "comma-separated message sizes in KiB of the bulk rows (default 64,1024,16384)")
	bulkRows := flag.String("bulkrows", "", "comma-separated parts of the bulk rows to run: post,oneway,echo,rss (default all; for profiling)")
	scale := flag.String("scale", "", "comma-separated tasks/agents points of the scale rows (default 100/1,1000/10,10000/100; -quick 1000/10)")
	ns := flag.String("n", "", "comma-separated task counts of the echo rows (default 1,8,64; -quick 1,64)")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "mesosgot-bench-")
	check(err)
	defer os.RemoveAll(tmp)
	_ = flag.Set("log_dir", tmp) // glog (mesos-go, mesosgot) writes its files here

	outSet := false
	flag.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	if *quick && !outSet {
		*out = "" // the quick table never replaces the full one by default
	}
	if *reps <= 0 {
		*reps = 5
		if *quick {
			*reps = 3
		}
	}
	cfg := fullConfig(*reps)
	if *quick {
		cfg = quickConfig(*reps)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}

	root, err := moduleRoot()
	check(err)
	if *ns != "" {
		cfg.ns = nil
		for _, x := range strings.Split(*ns, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			check(err)
			cfg.ns = append(cfg.ns, n)
		}
	}
	if *bulk != "" {
		bulkSizes = nil
		for _, x := range strings.Split(*bulk, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			check(err)
			bulkSizes = append(bulkSizes, n<<10)
		}
	}
	if *bulkRows != "" {
		bulkOnly = map[string]bool{}
		for _, x := range strings.Split(*bulkRows, ",") {
			bulkOnly[strings.TrimSpace(x)] = true
		}
	}
	if *scale != "" {
		cfg.scale = nil
		for _, x := range strings.Split(*scale, ",") {
			t, a, ok := strings.Cut(strings.TrimSpace(x), "/")
			tn, err1 := strconv.Atoi(t)
			an, err2 := strconv.Atoi(a)
			if !ok || err1 != nil || err2 != nil {
				fatalf("-scale: want tasks/agents, got %q", x)
			}
			cfg.scale = append(cfg.scale, scalePoint{tn, an})
		}
	}
	b := &bench{cfg: cfg, root: root, tmp: tmp, log: os.Stderr, only: *only, paths: *paths}
	b.logf("building the executor binary")
	b.execPath = filepath.Join(tmp, "benchexec")
	cmd := exec.Command("go", "build", "-o", b.execPath, "./bench/internal/benchexec")
	cmd.Dir = root
	if outb, err := cmd.CombinedOutput(); err != nil {
		fatalf("building benchexec: %v\n%s", err, outb)
	}
	b.machine = machineInfo()
	b.command = "go run ./bench" + argString(os.Args[1:])
	b.started = time.Now()

	if b.want("echo") {
		b.echoSections()
	}
	if b.want("start") {
		b.jobStartSection()
	}
	if b.want("placement") {
		b.placementSection()
	}
	if b.want("memory") {
		b.memorySection()
	}
	if b.want("bulk") {
		b.bulkSection()
	}
	if b.want("hello") {
		b.helloSection()
	}
	if b.want("scale") {
		b.scaleSection()
	}
	b.elapsed = time.Since(b.started)

	text := b.render(false)
	fmt.Print(text)
	if *out != "" {
		check(os.WriteFile(*out, []byte(b.render(true)), 0o644))
		b.logf("wrote %s", *out)
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		check(err)
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		check(f.Close())
	}
	fmt.Println(b.headline())
}

// bench is one run.
type bench struct {
	cfg      config
	root     string
	tmp      string
	execPath string
	log      io.Writer
	only     string
	paths    string
	machine  []string
	command  string
	started  time.Time
	elapsed  time.Duration

	sections []*section
	targets  []target
	// headline figures
	localSpeedup, fakeOverhead float64
	bulkRatio, helloMs         float64
	echo1M                     float64 // MB/s of 1 MiB echo
}

func (b *bench) want(s string) bool { return inList(b.only, s) }

// wantPath reports whether the echo path is to be run (-paths).
func (b *bench) wantPath(path string) bool {
	short := map[string]string{pathPlain: "plain", pathFake: "fake", pathRaw: "raw", pathLocal: "local"}
	return inList(b.paths, short[path])
}

// inList reports whether s is in the comma-separated list (an empty list holds everything).
func inList(list, s string) bool {
	if list == "" {
		return true
	}
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// section is one table of the report.
type section struct {
	title  string
	intro  string
	header []string
	rows   [][]string
	notes  []string
}

// target is one of issue 5's targets and what this run measured.
type target struct {
	what, measured string
	met            bool
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench %6.1fs: %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) headline() string {
	return fmt.Sprintf("headline: local-speedup=%.2f fake-overhead=%.2f bulk-ratio=%.2f hello-ms=%.0f", b.localSpeedup, b.fakeOverhead, b.bulkRatio, b.helloMs)
}

// render renders the report as Markdown; full adds the machine, the
// targets and the analysis.
func (b *bench) render(full bool) string {
	var sb strings.Builder
	if full {
		sb.WriteString("# mesosgot benchmarks\n\n")
		sb.WriteString("Generated by `go run ./bench` (see `bench/main.go`); the analysis at the end is `bench/analysis.md`.\n\n")
		sb.WriteString("Command:\n\n    " + b.command + "\n\n")
		sb.WriteString("Machine:\n\n")
		for _, m := range b.machine {
			sb.WriteString("- " + m + "\n")
		}
		fmt.Fprintf(&sb, "- run: %s, %s total, %d repetitions per figure (median (min–max))\n\n",
			b.started.UTC().Format("2006-01-02 15:04 UTC"), b.elapsed.Round(time.Second), b.cfg.reps)
	}
	for _, s := range b.sections {
		fmt.Fprintf(&sb, "## %s\n\n", s.title)
		if s.intro != "" {
			sb.WriteString(s.intro + "\n\n")
		}
		sb.WriteString("| " + strings.Join(s.header, " | ") + " |\n")
		seps := make([]string, len(s.header))
		for i := range seps {
			seps[i] = "---"
		}
		sb.WriteString("|" + strings.Join(seps, "|") + "|\n")
		for _, r := range s.rows {
			sb.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		sb.WriteString("\n")
		for _, n := range s.notes {
			sb.WriteString(n + "\n")
		}
		if len(s.notes) > 0 {
			sb.WriteString("\n")
		}
	}
	if len(b.targets) > 0 {
		sb.WriteString("## Targets (issues 5 and 12)\n\n| Target | Measured | Met |\n|---|---|---|\n")
		for _, t := range b.targets {
			met := "**missed**"
			if t.met {
				met = "met"
			}
			fmt.Fprintf(&sb, "| %s | %s | %s |\n", t.what, t.measured, met)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("```\n" + b.headline() + "\n```\n\n")
	if full {
		sb.WriteString(analysis)
	}
	return sb.String()
}

// machineInfo describes the machine: CPU model, cores, Go, OS.
func machineInfo() []string {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = " " + strings.TrimSpace(string(data))
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(data))
		if len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return []string{
		"CPU: " + cpu,
		fmt.Sprintf("cores: %d (GOMAXPROCS %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0)),
		"Go: " + runtime.Version(),
		"OS: " + runtime.GOOS + "/" + runtime.GOARCH + kernel,
		"load average at start: " + load + " (the machine is shared: medians over repetitions)",
	}
}

func argString(args []string) string {
	var sb strings.Builder
	for _, a := range args {
		sb.WriteString(" " + a)
	}
	return sb.String()
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the bench inside the mesosgot module")
	}
	return filepath.Dir(gomod), nil
}

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
