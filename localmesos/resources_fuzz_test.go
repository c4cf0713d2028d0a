package localmesos

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseResourcesRefusesOverflow(t *testing.T) {
	for _, in := range []string{"cpus:1e308;cpus:1e308", "mem:1.7e308;mem:1.7e308", "cpus:1e307", "cpus:9e15;cpus:9e15", "cpus:inf", "cpus:NaN", "cpus:-1"} {
		_, err := ParseResources(in)
		assert.Error(t, err, in)
	}
	rs, err := ParseResources("cpus:1e15;mem:1e15")
	require.NoError(t, err, "large sums that Mesos can hold are fine")
	assert.Len(t, rs, 2)
}

// FuzzParseResources: any -resources text parses into finite, non-negative
// scalars that format and parse back to the same, or is refused; never a
// panic.
func FuzzParseResources(f *testing.F) {
	for _, s := range []string{
		"cpus:4;mem:8192;disk:4096;ports:[31000-32000]",
		"cpus(role):2;gpus:{a,b}", "cpus:1e308;cpus:1e308", "ports:[5-3]", "x:[1-2,4-9]", ";;", "a:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := ParseResources(text)
		if err != nil {
			return
		}
		for _, r := range rs {
			if v := r.GetScalar().GetValue(); math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
				t.Fatalf("%q: scalar %s = %v", text, r.GetName(), v)
			}
		}
		again, err := ParseResources(FormatResources(rs))
		if err != nil {
			t.Fatalf("%q formats as %q, which does not parse: %v", text, FormatResources(rs), err)
		}
		if FormatResources(again) != FormatResources(rs) {
			t.Fatalf("%q: %q then %q", text, FormatResources(rs), FormatResources(again))
		}
	})
}
