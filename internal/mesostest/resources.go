package mesostest

import (
	"fmt"
	"sort"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
	util "github.com/mesos/mesos-go/api/v0/mesosutil"
)

// eps absorbs float rounding when resources are added and subtracted.
const eps = 1e-9

// scalars is a bag of named scalar resources.
type scalars map[string]float64

func (r scalars) clone() scalars {
	out := make(scalars, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

func (r scalars) add(o scalars) {
	for k, v := range o {
		r[k] += v
	}
}

func (r scalars) sub(o scalars) {
	for k, v := range o {
		r[k] -= v
	}
}

// contains reports whether r holds at least o.
func (r scalars) contains(o scalars) bool {
	for k, v := range o {
		if v > eps && r[k]+eps < v {
			return false
		}
	}
	return true
}

// positive returns the resources of r that are more than zero.
func (r scalars) positive() scalars {
	out := scalars{}
	for k, v := range r {
		if v > eps {
			out[k] = v
		}
	}
	return out
}

func (r scalars) names() []string {
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (r scalars) proto() []*mesos.Resource {
	var out []*mesos.Resource
	for _, k := range r.names() {
		if r[k] > eps {
			out = append(out, util.NewScalarResource(k, r[k]))
		}
	}
	return out
}

func (r scalars) String() string {
	parts := make([]string, 0, len(r))
	for _, k := range r.names() {
		parts = append(parts, fmt.Sprintf("%s:%g", k, r[k]))
	}
	return strings.Join(parts, ";")
}

// scalarsOf sums mesos resources, which must all be non-negative scalars.
func scalarsOf(rs []*mesos.Resource) (scalars, error) {
	out := scalars{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		if r.GetName() == "" {
			return nil, fmt.Errorf("resource without a name")
		}
		if r.GetType() != mesos.Value_SCALAR || r.Scalar == nil {
			return nil, fmt.Errorf("resource %q is not a scalar (only scalar resources are supported)", r.GetName())
		}
		v := r.GetScalar().GetValue()
		if v < 0 {
			return nil, fmt.Errorf("resource %q is negative (%g)", r.GetName(), v)
		}
		out[r.GetName()] += v
	}
	return out, nil
}
