package localmesos

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v0/mesosproto"
)

// DefaultResources is the per-agent resource string used when
// Config.Resources is empty.
const DefaultResources = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"

// ParseResources parses resources in the Mesos text form used by the agent's
// --resources flag: "name(role):value" items separated by ';', where a value
// is a scalar ("cpus:4"), ranges ("ports:[31000-32000,40000-40010]") or a set
// ("disks:{a,b}"). The role defaults to "*".
func ParseResources(text string) ([]*mesos.Resource, error) {
	rs := newResSet()
	for _, item := range strings.Split(text, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("resource %q: missing ':'", item)
		}
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		role := "*"
		if i := strings.IndexByte(name, '('); i >= 0 {
			if !strings.HasSuffix(name, ")") {
				return nil, fmt.Errorf("resource %q: bad role", item)
			}
			role = name[i+1 : len(name)-1]
			name = name[:i]
		}
		if name == "" || role == "" {
			return nil, fmt.Errorf("resource %q: empty name or role", item)
		}
		k := resKey{name: name, role: role}
		switch {
		case strings.HasPrefix(value, "["):
			if !strings.HasSuffix(value, "]") {
				return nil, fmt.Errorf("resource %q: unterminated range", item)
			}
			for _, r := range strings.Split(value[1:len(value)-1], ",") {
				r = strings.TrimSpace(r)
				if r == "" {
					continue
				}
				lo, hi, ok := strings.Cut(r, "-")
				b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
				e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
				if !ok || err1 != nil || err2 != nil || e < b {
					return nil, fmt.Errorf("resource %q: bad range %q", item, r)
				}
				rs.ranges[k] = addRanges(rs.ranges[k], []rng{{b, e}})
			}
		case strings.HasPrefix(value, "{"):
			if !strings.HasSuffix(value, "}") {
				return nil, fmt.Errorf("resource %q: unterminated set", item)
			}
			if rs.sets[k] == nil {
				rs.sets[k] = map[string]bool{}
			}
			for _, s := range strings.Split(value[1:len(value)-1], ",") {
				if s = strings.TrimSpace(s); s != "" {
					rs.sets[k][s] = true
				}
			}
		default:
			f, err := strconv.ParseFloat(value, 64)
			if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("resource %q: bad scalar %q", item, value)
			}
			sum := rs.scalars[k] + f
			if sum > maxScalar {
				return nil, fmt.Errorf("resource %q: %s adds up to more than %g", item, name, maxScalar)
			}
			rs.scalars[k] = sum
		}
	}
	return rs.proto(), nil
}

// maxScalar is the largest scalar resource accepted: Mesos keeps scalars
// as fixed-point numbers with three decimals in an int64.
const maxScalar = float64(math.MaxInt64 / 1000)

// FormatResources renders resources in the text form ParseResources reads.
func FormatResources(res []*mesos.Resource) string {
	return fromProto(res).String()
}

// resKey identifies a resource by name and role.
type resKey struct{ name, role string }

// rng is an inclusive range of unsigned integers.
type rng struct{ lo, hi uint64 }

// resSet is a normalised bag of resources supporting the arithmetic the
// master needs: addition, subtraction and containment.
type resSet struct {
	scalars map[resKey]float64
	ranges  map[resKey][]rng
	sets    map[resKey]map[string]bool
}

const epsilon = 1e-6

func newResSet() resSet {
	return resSet{
		scalars: map[resKey]float64{},
		ranges:  map[resKey][]rng{},
		sets:    map[resKey]map[string]bool{},
	}
}

func fromProto(res []*mesos.Resource) resSet {
	rs := newResSet()
	for _, r := range res {
		if r == nil {
			continue
		}
		k := resKey{name: r.GetName(), role: r.GetRole()}
		switch r.GetType() {
		case mesos.Value_SCALAR:
			rs.scalars[k] += r.GetScalar().GetValue()
		case mesos.Value_RANGES:
			var in []rng
			for _, x := range r.GetRanges().GetRange() {
				if x.GetEnd() >= x.GetBegin() {
					in = append(in, rng{x.GetBegin(), x.GetEnd()})
				}
			}
			rs.ranges[k] = addRanges(rs.ranges[k], in)
		case mesos.Value_SET:
			if rs.sets[k] == nil {
				rs.sets[k] = map[string]bool{}
			}
			for _, s := range r.GetSet().GetItem() {
				rs.sets[k][s] = true
			}
		}
	}
	return rs
}

func (rs resSet) clone() resSet {
	out := newResSet()
	for k, v := range rs.scalars {
		out.scalars[k] = v
	}
	for k, v := range rs.ranges {
		out.ranges[k] = append([]rng(nil), v...)
	}
	for k, v := range rs.sets {
		m := make(map[string]bool, len(v))
		for s := range v {
			m[s] = true
		}
		out.sets[k] = m
	}
	return out
}

// empty reports whether rs holds nothing positive.
func (rs resSet) empty() bool {
	for _, v := range rs.scalars {
		if v > epsilon {
			return false
		}
	}
	for _, v := range rs.ranges {
		if len(v) > 0 {
			return false
		}
	}
	for _, v := range rs.sets {
		if len(v) > 0 {
			return false
		}
	}
	return true
}

// plus returns rs + o.
func (rs resSet) plus(o resSet) resSet {
	out := rs.clone()
	for k, v := range o.scalars {
		out.scalars[k] += v
	}
	for k, v := range o.ranges {
		out.ranges[k] = addRanges(out.ranges[k], v)
	}
	for k, v := range o.sets {
		if out.sets[k] == nil {
			out.sets[k] = map[string]bool{}
		}
		for s := range v {
			out.sets[k][s] = true
		}
	}
	return out
}

// minus returns rs - o, clamped at zero.
func (rs resSet) minus(o resSet) resSet {
	out := rs.clone()
	for k, v := range o.scalars {
		if n := out.scalars[k] - v; n > epsilon {
			out.scalars[k] = n
		} else {
			delete(out.scalars, k)
		}
	}
	for k, v := range o.ranges {
		if n := subRanges(out.ranges[k], v); len(n) > 0 {
			out.ranges[k] = n
		} else {
			delete(out.ranges, k)
		}
	}
	for k, v := range o.sets {
		for s := range v {
			delete(out.sets[k], s)
		}
		if len(out.sets[k]) == 0 {
			delete(out.sets, k)
		}
	}
	return out
}

// contains reports whether o is a subset of rs.
func (rs resSet) contains(o resSet) bool {
	for k, v := range o.scalars {
		if v > epsilon && rs.scalars[k]+epsilon < v {
			return false
		}
	}
	for k, v := range o.ranges {
		if len(subRanges(v, rs.ranges[k])) > 0 {
			return false
		}
	}
	for k, v := range o.sets {
		for s := range v {
			if !rs.sets[k][s] {
				return false
			}
		}
	}
	return true
}

func sortedKeys[V any](m map[resKey]V) []resKey {
	keys := make([]resKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].role < keys[j].role
	})
	return keys
}

// proto renders rs as Mesos resources, sorted by name for determinism.
func (rs resSet) proto() []*mesos.Resource {
	var out []*mesos.Resource
	for _, k := range sortedKeys(rs.scalars) {
		v := math.Round(rs.scalars[k]*1000) / 1000
		if v <= epsilon {
			continue
		}
		out = append(out, &mesos.Resource{
			Name:   proto.String(k.name),
			Type:   mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
			Role:   proto.String(k.role),
		})
	}
	for _, k := range sortedKeys(rs.ranges) {
		if len(rs.ranges[k]) == 0 {
			continue
		}
		var rr []*mesos.Value_Range
		for _, x := range rs.ranges[k] {
			rr = append(rr, &mesos.Value_Range{Begin: proto.Uint64(x.lo), End: proto.Uint64(x.hi)})
		}
		out = append(out, &mesos.Resource{
			Name:   proto.String(k.name),
			Type:   mesos.Value_RANGES.Enum(),
			Ranges: &mesos.Value_Ranges{Range: rr},
			Role:   proto.String(k.role),
		})
	}
	for _, k := range sortedKeys(rs.sets) {
		if len(rs.sets[k]) == 0 {
			continue
		}
		items := make([]string, 0, len(rs.sets[k]))
		for s := range rs.sets[k] {
			items = append(items, s)
		}
		sort.Strings(items)
		out = append(out, &mesos.Resource{
			Name: proto.String(k.name),
			Type: mesos.Value_SET.Enum(),
			Set:  &mesos.Value_Set{Item: items},
			Role: proto.String(k.role),
		})
	}
	return out
}

// String renders rs in the Mesos text form.
func (rs resSet) String() string {
	var parts []string
	name := func(k resKey) string {
		if k.role == "*" || k.role == "" {
			return k.name
		}
		return k.name + "(" + k.role + ")"
	}
	for _, r := range rs.proto() {
		k := resKey{name: r.GetName(), role: r.GetRole()}
		switch r.GetType() {
		case mesos.Value_SCALAR:
			parts = append(parts, name(k)+":"+strconv.FormatFloat(r.GetScalar().GetValue(), 'f', -1, 64))
		case mesos.Value_RANGES:
			var rr []string
			for _, x := range r.GetRanges().GetRange() {
				rr = append(rr, fmt.Sprintf("%d-%d", x.GetBegin(), x.GetEnd()))
			}
			parts = append(parts, name(k)+":["+strings.Join(rr, ",")+"]")
		case mesos.Value_SET:
			parts = append(parts, name(k)+":{"+strings.Join(r.GetSet().GetItem(), ",")+"}")
		}
	}
	return strings.Join(parts, ";")
}

// addRanges merges b into a and returns the sorted, coalesced union.
func addRanges(a, b []rng) []rng {
	all := append(append([]rng(nil), a...), b...)
	if len(all) == 0 {
		return nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i].lo < all[j].lo })
	out := []rng{all[0]}
	for _, r := range all[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 && last.hi != math.MaxUint64 || r.lo <= last.hi {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// subRanges returns a minus b; a and b need not be normalised.
func subRanges(a, b []rng) []rng {
	cur := addRanges(a, nil)
	for _, s := range addRanges(b, nil) {
		var next []rng
		for _, r := range cur {
			if s.hi < r.lo || s.lo > r.hi {
				next = append(next, r)
				continue
			}
			if s.lo > r.lo {
				next = append(next, rng{r.lo, s.lo - 1})
			}
			if s.hi < r.hi {
				next = append(next, rng{s.hi + 1, r.hi})
			}
		}
		cur = next
	}
	return cur
}
