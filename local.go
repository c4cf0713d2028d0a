package mesosgot

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	log "github.com/golang/glog"
	sched "github.com/mesos/mesos-go/api/v0/scheduler"

	"github.com/mesosgot/mesosgot/localmesos"
)

// defaultLocalAgents is the number of agents of "-master=local".
const defaultLocalAgents = 2

// newSchedulerDriver makes the real mesos-go driver.
func newSchedulerDriver(cfg sched.DriverConfig) (sched.SchedulerDriver, error) {
	return sched.NewMesosSchedulerDriver(cfg)
}

// prepareMaster starts the embedded local cluster when Master is "local" or
// "local:N", sized so that the job fits, and points the driver at it.
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
	res := localAgentResources(schd.app.TasksResourceInfo(), schd.conf.ExecutorResources, agents)
	c, err := localmesos.Start(localmesos.Config{
		Agents:    agents,
		Resources: res,
		IP:        ip.String(),
		Logf: func(format string, args ...any) {
			log.Infof("localmesos: "+format, args...)
		},
	})
	if err != nil {
		return fmt.Errorf("mesosgot: starting the embedded local cluster: %w", err)
	}
	log.Infof("mesosgot: embedded local cluster with %d agents (%s each) at %s", agents, res, c.MasterAddr())
	schd.addCleanup(func() {
		if err := c.Close(); err != nil {
			log.Warningf("mesosgot: closing the embedded local cluster: %v", err)
		}
	})
	schd.drvConf.Master = c.MasterAddr()
	schd.local = c
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

// localAgentResources sizes each of n agents so that the job fits with room
// to spare: every agent can hold its share of every task type (rounded up)
// plus one executor, and at least the Mesos defaults of a small agent.
func localAgentResources(tasks []*AppTaskResourceInfo, execRes map[string]float64, n int) string {
	need := map[string]float64{"cpus": 4, "mem": 4096, "disk": 10000}
	perAgent := map[string]float64{}
	for _, t := range tasks {
		if t == nil || t.Count <= 0 {
			continue
		}
		share := math.Ceil(float64(t.Count) / float64(n))
		for name, v := range t.Resources {
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
		need[name] = math.Max(need[name], math.Ceil(2*v))
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
	return strings.Join(parts, ";")
}
