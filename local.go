package mesosgot

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	log "github.com/golang/glog"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot/localmesos"
)

// defaultLocalAgents is the number of agents of "-master=local".
const defaultLocalAgents = 2

// defaultLocalCapacityFactor is the default GoTaskSchedConfig.LocalCapacityFactor.
const defaultLocalCapacityFactor = 4

// newSchedulerDriver makes the real mesos-go driver.
func newSchedulerDriver(cfg sched.DriverConfig) (sched.SchedulerDriver, error) {
	return sched.NewMesosSchedulerDriver(cfg)
}

// The embedded cluster's work directory (the executors' sandboxes) is
// removed when the job ends, unless the job failed because an executor
// failed: then it is kept, and its path printed, for the executor's logs.

// prepareMaster starts the embedded local cluster when Master is "local" or
// "local:N", sized so that the job fits (within the machine's capacity, see
// localAgentResources), and points the driver at it. A job larger than that
// fails here, with the explanation of what is short.
func (schd *GoTaskScheduler) prepareMaster() error {
	if !isLocalMaster(schd.conf.Master) {
		return nil
	}
	agents, err := parseLocalMaster(schd.conf.Master)
	if err != nil {
		return err
	}
	ip := schd.drvConf.BindingAddress
	if ip.IsUnspecified() {
		ip = schd.drvConf.PublishedAddress
	}
	tasks := schd.app.TasksResourceInfo()
	factor := schd.conf.LocalCapacityFactor
	if factor <= 0 {
		factor = defaultLocalCapacityFactor
	}
	limit := machineLimit(factor)
	res, perAgent := localAgentResources(tasks, schd.conf.ExecutorResources, agents, limit)
	if short := localShortfall(tasks, schd.conf.ExecutorResources, perAgent, agents); len(short) > 0 {
		return fmt.Errorf("mesosgot: -master=%s: the job does not fit on this machine (the embedded cluster holds at most %g x its cpus and memory, see -local_capacity_factor): %s",
			schd.conf.Master, factor, formatShortfall(short))
	}
	workDir, err := localmesos.TempWorkDir() // records its owner: a later run removes it if this process is killed
	if err != nil {
		return fmt.Errorf("mesosgot: creating the embedded cluster's work directory: %w", err)
	}
	c, err := localmesos.Start(localmesos.Config{
		Agents:    agents,
		Resources: res,
		WorkDir:   workDir,
		IP:        ip.String(),
		Logf: func(format string, args ...any) {
			log.Infof("localmesos: "+format, args...)
		},
	})
	if err != nil {
		os.RemoveAll(workDir)
		return fmt.Errorf("mesosgot: starting the embedded local cluster: %w", err)
	}
	schd.diagf("embedded local cluster: %d agents of %s at %s", agents, res, c.MasterAddr())
	schd.addCleanup(func() {
		if err := c.Close(); err != nil {
			log.Warningf("mesosgot: closing the embedded local cluster: %v", err)
		}
		if schd.result != nil && schd.keepSandbox {
			if err := localmesos.KeepWorkDir(workDir); err != nil {
				log.Warningf("mesosgot: keeping the embedded cluster's work directory: %v", err)
			}
			schd.keptSandbox = workDir // reported by the job's end
			return
		}
		if err := os.RemoveAll(workDir); err != nil {
			log.Warningf("mesosgot: removing the embedded cluster's work directory: %v", err)
		}
	})
	schd.drvConf.Master = c.MasterAddr()
	schd.local = c
	schd.localWorkDir = workDir
	return nil
}

// parseLocalMaster reads N from "local" or "local:N".
func parseLocalMaster(master string) (int, error) {
	if master == "local" {
		return defaultLocalAgents, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(master, "local:"))
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("mesosgot: -master=%s: want local or local:N with 1 <= N <= 1000", master)
	}
	return n, nil
}

// machineLimit is the most the embedded cluster may hold in all: factor
// times the machine's cpus and memory (MB). Other resources are not bounded.
func machineLimit(factor float64) map[string]float64 {
	return map[string]float64{
		"cpus": factor * float64(runtime.NumCPU()),
		"mem":  factor * machineMemMB(),
	}
}

// machineMemMB is the machine's memory in MB (from /proc/meminfo; 4096
// where that cannot be read).
func machineMemMB() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 4096
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(fields[1], 64); err == nil && kb > 0 {
				return math.Floor(kb / 1024)
			}
		}
	}
	return 4096
}

// localAgentResources sizes each of n agents so that the job fits with room
// to spare: every agent can hold its share of every task type (rounded up)
// plus one executor, twice over, and at least the Mesos defaults of a small
// agent (cpus 4, mem 4096, disk 10000). No resource named in limit grows
// past limit/n per agent (but never below those defaults). It returns the
// agents' resources in Mesos text form and as a map.
func localAgentResources(tasks []*AppTaskResourceInfo, execRes map[string]float64, n int, limit map[string]float64) (string, map[string]float64) {
	need := map[string]float64{"cpus": 4, "mem": 4096, "disk": 10000}
	perAgent := map[string]float64{}
	for _, t := range tasks {
		if t == nil || t.Count <= 0 {
			continue
		}
		share := math.Ceil(float64(t.Count) / float64(n))
		for name, v := range taskResources(t) {
			if v > 0 {
				perAgent[name] += share * v
			}
		}
	}
	for name, v := range execRes {
		perAgent[name] += v
	}
	for name, v := range perAgent {
		// room for uneven packing: twice the even share
		want := math.Ceil(2 * v)
		if l, ok := limit[name]; ok {
			want = math.Min(want, math.Floor(l/float64(n)))
		}
		need[name] = math.Max(need[name], want)
	}
	names := make([]string, 0, len(need))
	for name := range need {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names)+1)
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s:%g", name, need[name]))
	}
	parts = append(parts, "ports:[31000-32000]")
	return strings.Join(parts, ";"), need
}

// taskResources is what one task of t asks Mesos for.
func taskResources(t *AppTaskResourceInfo) map[string]float64 {
	if len(toMesosResources(t.Resources)) == 0 {
		return DefaultTaskResources()
	}
	return t.Resources
}

// localShortfall is what the job lacks on n agents of perAgent each: the
// agents are taken as one round of offers.
func localShortfall(tasks []*AppTaskResourceInfo, execRes, perAgent map[string]float64, n int) []ResourceShortfall {
	offers := make([]placementOffer, n)
	for i := range offers {
		offers[i] = placementOffer{ID: fmt.Sprint(i), AgentID: fmt.Sprint(i), Resources: perAgent}
	}
	var a admission
	a.observe(offers)
	return explainShortfall(taskTypes(tasks), execRes, a.maxRound, a.maxAgent)
}

// executorStderrTail returns the last lines of the stderr of executor
// execID on agentID of the embedded cluster ("" when there is none).
func (schd *GoTaskScheduler) executorStderrTail(frameworkID, agentID, execID string) string {
	if schd.localWorkDir == "" || frameworkID == "" {
		return ""
	}
	runs, _ := filepath.Glob(filepath.Join(schd.localWorkDir, "slaves", agentID, "frameworks", frameworkID, "executors", execID, "runs", "*", "stderr"))
	if len(runs) == 0 {
		return ""
	}
	sort.Strings(runs)
	b, err := os.ReadFile(runs[len(runs)-1])
	if err != nil {
		return ""
	}
	return tailLines(string(b), 10, 2048)
}

// tailLines returns the last n lines of s, at most max bytes of them.
func tailLines(s string, n, max int) string {
	s = strings.TrimRight(s, "\n")
	if len(s) > max {
		s = s[len(s)-max:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
