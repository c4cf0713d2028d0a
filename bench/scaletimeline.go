package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// timeline records when the local cluster of a scale row saw its events
// (from localmesos' Logf lines): the first and last task STAGING (the
// master accepted the launch), executor started (the agent forked it after
// fetching its URIs), and task RUNNING (the master forwarded the update).
// It says where the start time of a scale row goes.
type timeline struct {
	mu     sync.Mutex
	first  map[string]time.Time
	last   map[string]time.Time
	counts map[string]int
}

func newTimeline() *timeline {
	return &timeline{first: map[string]time.Time{}, last: map[string]time.Time{}, counts: map[string]int{}}
}

// timelineKinds are the events recorded, in the order of a job's start.
var timelineKinds = []string{"staging", "executor", "running"}

// logf is the cluster's Config.Logf.
func (tl *timeline) logf(format string, args ...any) {
	now := time.Now()
	var kind string
	if strings.HasPrefix(format, "task ") && len(args) >= 3 {
		s := fmt.Sprint(args[2])
		switch s {
		case "TASK_STAGING":
			kind = "staging"
		case "TASK_RUNNING":
			kind = "running"
		}
	} else if strings.HasPrefix(format, "executor ") && strings.Contains(format, "started on agent") {
		kind = "executor"
	}
	if kind == "" {
		return
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.counts[kind] == 0 {
		tl.first[kind] = now
	}
	tl.last[kind] = now
	tl.counts[kind]++
}

// summary describes the timeline relative to t0 (the child's Run() call).
func (tl *timeline) summary(t0 time.Time) string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	kinds := make([]string, 0, len(timelineKinds))
	for _, k := range timelineKinds {
		if tl.counts[k] > 0 {
			kinds = append(kinds, k)
		}
	}
	sort.SliceStable(kinds, func(i, j int) bool { return tl.first[kinds[i]].Before(tl.first[kinds[j]]) })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d %s–%s", k, tl.counts[k],
			dur(tl.first[k].Sub(t0).Seconds()), dur(tl.last[k].Sub(t0).Seconds())))
	}
	return strings.Join(parts, ", ")
}
