package mesosgot

import (
	"fmt"
	"testing"
)

// BenchmarkPlacementGrid runs the planner on every combination of 100 /
// 1,000 / 10,000 tasks (4 task types) and 10 / 100 / 1,000 offers, each
// offer sized so that the job fits with 25% to spare (with more offers
// than tasks, so that every offer holds two tasks). go run ./bench runs
// it for the placement table; ns/task shows how the cost grows.
func BenchmarkPlacementGrid(b *testing.B) {
	for _, nTasks := range []int{100, 1000, 10000} {
		for _, nOffers := range []int{10, 100, 1000} {
			capScale := max(1.25, 2*float64(nOffers)/float64(nTasks))
			offers, tasks, exec := benchPlacementInput(nTasks, nOffers, 4, capScale)
			b.Run(fmt.Sprintf("tasks=%d/offers=%d", nTasks, nOffers), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, ok := planPlacement(offers, tasks, exec); !ok {
						b.Fatal("no plan")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nTasks), "ns/task")
			})
		}
	}
}
