package localmesos

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, s string) resSet {
	t.Helper()
	r, err := ParseResources(s)
	require.NoError(t, err)
	return fromProto(r)
}

func TestParseAndFormatResources(t *testing.T) {
	r, err := ParseResources(DefaultResources)
	require.NoError(t, err)
	assert.Equal(t, "cpus:4;disk:10000;mem:4096;ports:[31000-32000]", FormatResources(r))
	assert.Equal(t, "cpus(web):1.5;ports:[1-5,7-9];zones:{a,b}", mustParse(t, "cpus(web):1.5; ports:[7-9,1-3,4-5];zones:{b,a}").String())
	for _, bad := range []string{"cpus", "cpus:x", "ports:[5-1]", "ports:[1-2", "s:{a", "cpus:-1", "x(:1"} {
		_, err := ParseResources(bad)
		assert.Error(t, err, bad)
	}
}

func TestResourceArithmetic(t *testing.T) {
	total := mustParse(t, "cpus:4;mem:1024;ports:[100-200];s:{a,b}")
	need := mustParse(t, "cpus:0.5;mem:1024;ports:[150-160];s:{a}")
	assert.True(t, total.contains(need))
	left := total.minus(need)
	assert.Equal(t, "cpus:3.5;ports:[100-149,161-200];s:{b}", left.String())
	assert.False(t, left.contains(need))
	assert.True(t, left.plus(need).contains(total))
	assert.True(t, total.contains(left.plus(need)))
	assert.False(t, total.contains(mustParse(t, "ports:[199-201]")))
	assert.False(t, total.contains(mustParse(t, "gpus:1")))
	assert.True(t, total.contains(mustParse(t, "gpus:0")))
	assert.True(t, newResSet().empty())
	assert.True(t, mustParse(t, "cpus:0.1").minus(mustParse(t, "cpus:0.1")).empty())
	// 0.1+0.2 must fit in 0.3 (fixed-point tolerance).
	assert.True(t, mustParse(t, "cpus:0.3").contains(mustParse(t, "cpus:0.1").plus(mustParse(t, "cpus:0.2"))))
}
