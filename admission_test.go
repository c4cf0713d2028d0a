package mesosgot

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mesosgot/mesosgot/localmesos"
)

func TestExplainShortfall(t *testing.T) {
	exec := map[string]float64{"cpus": 0.1, "mem": 32}
	agents := func(res ...map[string]float64) []placementOffer {
		var out []placementOffer
		for i, r := range res {
			out = append(out, placementOffer{ID: string(rune('a' + i)), AgentID: string(rune('A' + i)), Resources: r})
		}
		return out
	}
	tests := []struct {
		name   string
		types  []taskType
		rounds [][]placementOffer
		want   []ResourceShortfall
	}{
		{
			name:   "absurd cpus: total and per task short",
			types:  []taskType{{Name: "worker", Count: 8, Res: map[string]float64{"cpus": 1000, "mem": 64}}},
			rounds: [][]placementOffer{agents(map[string]float64{"cpus": 4, "mem": 4096}, map[string]float64{"cpus": 4, "mem": 4096})},
			want: []ResourceShortfall{{Resource: "cpus", Need: 8000.1, Offered: 8, LargestAgent: 4,
				Tasks: []TaskTypeNeed{{Name: "worker", Count: 8, Each: 1000, TooBig: true}}}},
		},
		{
			name: "total short, each task fits; per task type listed",
			types: []taskType{
				{Name: "a", Count: 4, Res: map[string]float64{"cpus": 1, "mem": 10}},
				{Name: "b", Count: 2, Res: map[string]float64{"mem": 100}},
			},
			rounds: [][]placementOffer{agents(map[string]float64{"cpus": 2, "mem": 1000})},
			want: []ResourceShortfall{{Resource: "cpus", Need: 4.1, Offered: 2, LargestAgent: 2,
				Tasks: []TaskTypeNeed{{Name: "a", Count: 4, Each: 1}}}},
		},
		{
			name:  "the largest round counts, over rounds",
			types: []taskType{{Name: "w", Count: 3, Res: map[string]float64{"cpus": 1}}},
			rounds: [][]placementOffer{
				agents(map[string]float64{"cpus": 1}),
				agents(map[string]float64{"cpus": 2}, map[string]float64{"cpus": 1}),
				agents(map[string]float64{"cpus": 0.5}),
			},
			want: []ResourceShortfall{{Resource: "cpus", Need: 3.1, Offered: 3, LargestAgent: 2,
				Tasks: []TaskTypeNeed{{Name: "w", Count: 3, Each: 1}}}},
		},
		{
			name:   "offers of one agent are pooled",
			types:  []taskType{{Name: "w", Count: 1, Res: map[string]float64{"cpus": 3}}},
			rounds: [][]placementOffer{{{ID: "1", AgentID: "A", Resources: map[string]float64{"cpus": 2}}, {ID: "2", AgentID: "A", Resources: map[string]float64{"cpus": 2}}}},
			want:   nil,
		},
		{
			name:   "a resource never offered",
			types:  []taskType{{Name: "g", Count: 1, Res: map[string]float64{"gpus": 1, "cpus": 0.1}}},
			rounds: [][]placementOffer{agents(map[string]float64{"cpus": 4})},
			want: []ResourceShortfall{{Resource: "gpus", Need: 1, Offered: 0, LargestAgent: 0,
				Tasks: []TaskTypeNeed{{Name: "g", Count: 1, Each: 1, TooBig: true}}}},
		},
		{
			name:   "exact fit is no shortfall (rounding)",
			types:  []taskType{{Name: "w", Count: 3, Res: map[string]float64{"cpus": 0.1}}},
			rounds: [][]placementOffer{agents(map[string]float64{"cpus": 0.1 + 0.1 + 0.1 + 0.1})},
			want:   nil,
		},
		{
			name:  "no offers at all",
			types: []taskType{{Name: "w", Count: 1, Res: map[string]float64{"cpus": 1}}},
			want: []ResourceShortfall{{Resource: "cpus", Need: 1.1, Offered: 0, LargestAgent: 0,
				Tasks: []TaskTypeNeed{{Name: "w", Count: 1, Each: 1, TooBig: true}}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a admission
			for _, r := range tc.rounds {
				a.observe(r)
			}
			got := explainShortfall(tc.types, exec, a.maxRound, a.maxAgent)
			for i := range got {
				got[i].Need = round6(got[i].Need)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatShortfall(t *testing.T) {
	short := []ResourceShortfall{{Resource: "cpus", Need: 8000.1, Offered: 8, LargestAgent: 4,
		Tasks: []TaskTypeNeed{{Name: "worker", Count: 8, Each: 1000, TooBig: true}, {Name: "aux", Count: 1, Each: 0.5}}}}
	assert.Equal(t, "cpus: the job needs 8000.1 in one round (worker: 8 x 1000, one task does not fit on any agent; aux: 1 x 0.5), the largest round offered 8, the largest agent 4", formatShortfall(short))
	assert.Contains(t, formatShortfall(nil), "could not be packed")
}

func TestLocalAgentResourcesBoundedByTheMachine(t *testing.T) {
	limit := map[string]float64{"cpus": 8, "mem": 65536}
	tests := []struct {
		name  string
		tasks []*AppTaskResourceInfo
		n     int
		want  string
	}{
		{"small job: Mesos defaults", []*AppTaskResourceInfo{{Name: "w", Count: 4, Resources: map[string]float64{"cpus": 0.1, "mem": 16}}}, 2,
			"cpus:4;disk:10000;mem:4096;ports:[31000-32000]"},
		{"grows to fit", []*AppTaskResourceInfo{{Name: "w", Count: 4, Resources: map[string]float64{"mem": 2048}}}, 2,
			"cpus:4;disk:10000;mem:8256;ports:[31000-32000]"},
		{"absurd cpus capped at the limit per agent", []*AppTaskResourceInfo{{Name: "w", Count: 8, Resources: map[string]float64{"cpus": 1000}}}, 2,
			"cpus:4;disk:10000;mem:4096;ports:[31000-32000]"},
		{"mem capped", []*AppTaskResourceInfo{{Name: "w", Count: 1, Resources: map[string]float64{"mem": 1e6}}}, 1,
			"cpus:4;disk:10000;mem:65536;ports:[31000-32000]"},
		{"unbounded resource sized to the job", []*AppTaskResourceInfo{{Name: "w", Count: 2, Resources: map[string]float64{"gpus": 3}}}, 1,
			"cpus:4;disk:10000;gpus:12;mem:4096;ports:[31000-32000]"},
	}
	exec := map[string]float64{"cpus": 0.1, "mem": 32}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := localAgentResources(tc.tasks, exec, tc.n, limit)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLocalMasterRefusesAJobLargerThanTheMachine(t *testing.T) {
	conf := localConf(t, "local")
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 8, map[string]float64{"cpus": 1000})
	s.RegisterSchedFunc(func(<-chan GoTaskMsg, chan<- GoTaskMsg, <-chan SchedEvent) {})
	err := s.Run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not fit on this machine")
	assert.Contains(t, err.Error(), "cpus: the job needs 8000.1 in one round (seq: 8 x 1000, one task does not fit on any agent)")
	assert.Nil(t, s.local, "no cluster was started")
}

// TestPlacementTimeoutNamesTheShortResource: on a cluster too small for
// the job, -placement_timeout fails it with what is short, after warning
// and emitting JobNotAdmitted.
func TestPlacementTimeoutNamesTheShortResource(t *testing.T) {
	c, err := localmesos.Start(localmesos.Config{Agents: 1, Resources: "cpus:1;mem:512;disk:1000;ports:[31000-32000]"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	conf := localConf(t, c.MasterAddr())
	conf.PlacementTimeout = 2 * time.Second
	diag := &syncBuffer{}
	conf.DiagOutput = diag
	s := NewGoTaskScheduler("", conf, nil)
	s.SpawnTask("seq", 2, map[string]float64{"cpus": 4, "mem": 64})
	evs := &events{}
	s.RegisterSchedFunc(func(schedin <-chan GoTaskMsg, schedout chan<- GoTaskMsg, schedevent <-chan SchedEvent) {
		drainEvents(evs, schedevent)
	})
	result := make(chan error, 1)
	go func() { result <- s.Run() }()
	select {
	case err = <-result:
	case <-time.After(60 * time.Second):
		t.Fatal("the job did not end after its placement timeout")
	}
	var je *JobError
	require.ErrorAs(t, err, &je)
	t.Logf("error: %v\ndiagnostics:\n%s", err, diag)
	assert.Contains(t, je.Cause, "within -placement_timeout 2s")
	assert.Contains(t, je.Cause, "cpus: the job needs 8.1 in one round (seq: 2 x 4, one task does not fit on any agent), the largest round offered 1, the largest agent 1")
	assert.NotContains(t, je.Cause, "mem:", "mem is not short")
	assert.Contains(t, diag.String(), "mesosgot: WARNING: offers cannot hold the job yet")
	// Offers came every 0.1 s, but within 10 s only the first round and the
	// timeout say so.
	assert.Equal(t, 2, evs.count(JobNotAdmitted), "the first round, then the timeout")
	assert.Equal(t, 1, strings.Count(diag.String(), "WARNING: offers cannot hold the job yet"), "one warning within 10 s")
	ad, ok := evs.find(JobNotAdmitted)[0].EventData.(AdmissionEvent)
	require.True(t, ok, "EventData is an AdmissionEvent")
	require.Len(t, ad.Short, 1)
	assert.Equal(t, "cpus", ad.Short[0].Resource)
	assert.True(t, strings.HasPrefix(ad.Explanation, "cpus: "), ad.Explanation)
	assert.Equal(t, 1, evs.count(Shutdown))
}
