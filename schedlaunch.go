package mesosgot

import (
	"fmt"

	"github.com/gogo/protobuf/proto"
	log "github.com/golang/glog"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
)

// resourceOffers launches the job if this round holds it, and declines
// every offer it does not use.
func (j *schedJob) resourceOffers(offers []*mesos.Offer) {
	if !j.wantsLaunch() {
		j.decline(offers, nil, launchedRefuseSeconds)
		return
	}
	pOffers := make([]placementOffer, len(offers))
	for i, o := range offers {
		pOffers[i] = placementOffer{ID: o.GetId().GetValue(), AgentID: o.GetSlaveId().GetValue(), Resources: scalarResources(o.GetResources())}
	}
	pTasks := make([]placementTask, len(j.taskOrder))
	for i, name := range j.taskOrder {
		pTasks[i] = placementTask{Name: name, Resources: j.tasks[name].res}
	}
	plan, ok := planPlacement(pOffers, pTasks, j.s.conf.ExecutorResources)
	if !ok {
		j.decline(offers, nil, j.s.conf.TaskRefuseSeconds)
		j.notAdmitted(pOffers)
		return
	}
	hostOf := map[string]string{}
	for _, o := range offers {
		hostOf[o.GetSlaveId().GetValue()] = o.GetHostname()
	}
	j.launched = true
	if j.phase == phaseWaiting {
		j.phase = phaseRunning
	}
	for _, ap := range plan.Agents {
		execID := "mesosgot-executor-" + ap.AgentID
		conn := &execConn{
			execID: execID, agentID: ap.AgentID,
			execPB: util.NewExecutorID(execID), agentPB: util.NewSlaveID(ap.AgentID),
			link: j.newExecLink(execID), tasks: map[string]bool{},
		}
		j.conns[execID] = conn
		execInfo := j.s.executorInfo(execID)
		var infos []*mesos.TaskInfo
		for _, ti := range ap.Tasks {
			t := j.tasks[pTasks[ti].Name]
			t.agentID, t.execID, t.launched = ap.AgentID, execID, true
			conn.tasks[t.name] = true
			infos = append(infos, &mesos.TaskInfo{
				Name:      proto.String(t.name),
				TaskId:    util.NewTaskID(t.name),
				SlaveId:   util.NewSlaveID(ap.AgentID),
				Executor:  execInfo,
				Resources: toMesosResources(t.res),
				Data:      j.taskInfoData(t, execID),
			})
		}
		offerIDs := make([]*mesos.OfferID, len(ap.OfferIDs))
		for i, id := range ap.OfferIDs {
			offerIDs[i] = util.NewOfferID(id)
		}
		log.Infof("mesosgot: launching %d tasks on agent %s (%s)", len(infos), ap.AgentID, hostOf[ap.AgentID])
		if _, err := j.driver.LaunchTasks(offerIDs, infos, &mesos.Filters{RefuseSeconds: proto.Float64(launchedRefuseSeconds)}); err != nil {
			j.emit(Error, fmt.Errorf("mesosgot: launching tasks on agent %s: %w", ap.AgentID, err))
			j.fail(&JobError{TaskName: infos[0].GetName(), Cause: "launch failed: " + err.Error()})
			return
		}
		for _, ti := range ap.Tasks {
			t := j.tasks[pTasks[ti].Name]
			j.emit(TaskLaunched, TaskEvent{TaskName: t.name, AgentID: t.agentID})
			if len(t.pending) > 0 {
				j.backlog[t.name] = t
			}
		}
	}
	used := map[string]bool{}
	for _, ap := range plan.Agents {
		for _, id := range ap.OfferIDs {
			used[id] = true
		}
	}
	j.decline(offers, used, launchedRefuseSeconds)
}

// wantsLaunch reports whether offers are still of use: the job has tasks,
// has not launched them, and is not ending (or is ending normally with
// messages the app sent to tasks not yet launched).
func (j *schedJob) wantsLaunch() bool {
	if j.launched || len(j.tasks) == 0 {
		return false
	}
	switch j.phase {
	case phaseWaiting:
		return true
	case phaseDraining:
		return j.hasPending()
	}
	return false
}

// hasPending reports whether any task has app messages waiting.
func (j *schedJob) hasPending() bool {
	for _, t := range j.tasks {
		if len(t.pending) > 0 {
			return true
		}
	}
	return false
}

// decline declines every offer not in used, with the given refuse filter.
func (j *schedJob) decline(offers []*mesos.Offer, used map[string]bool, refuse float64) {
	for _, o := range offers {
		if used[o.GetId().GetValue()] {
			continue
		}
		if _, err := j.driver.DeclineOffer(o.GetId(), &mesos.Filters{RefuseSeconds: proto.Float64(refuse)}); err != nil {
			log.Warningf("mesosgot: declining offer %s: %v", o.GetId().GetValue(), err)
		}
	}
}
