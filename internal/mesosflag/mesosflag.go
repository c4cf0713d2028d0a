// Package mesosflag holds what the mesos-local, mesos-master and
// mesos-agent commands share: Mesos' duration syntax for flags and its
// credentials file.
package mesosflag

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Units of stout's Duration text form, as Mesos flags take them.
var units = []struct {
	suffix string
	d      time.Duration
}{
	// Longest suffixes first, so that "mins" is not read as "ns" or "ms".
	{"weeks", 7 * 24 * time.Hour},
	{"days", 24 * time.Hour},
	{"hrs", time.Hour},
	{"mins", time.Minute},
	{"secs", time.Second},
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"ns", time.Nanosecond},
}

// ParseDuration parses a duration in Mesos' form ("15secs", "100ms",
// "1.5mins", "2days") or Go's ("15s", "1m30s").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok || num == "" {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			break // maybe Go's form ("1m30s" ends in "s" only, "10ms" parses above)
		}
		if f < 0 || math.IsNaN(f) || f*float64(u.d) > math.MaxInt64 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(f * float64(u.d)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want Mesos' form (15secs, 100ms, 2mins) or Go's (15s): %w", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// FormatDuration writes d in stout's form, as Mesos prints durations.
func FormatDuration(d time.Duration) string {
	for _, u := range units {
		if d >= u.d && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.suffix
		}
	}
	if d == 0 {
		return "0ns"
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// Duration is a flag.Value holding a duration in Mesos' or Go's form.
type Duration struct{ D time.Duration }

// String implements flag.Value.
func (d *Duration) String() string { return FormatDuration(d.D) }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	d.D = v
	return nil
}

// ReadCredentials reads a credentials file: one "principal secret" pair per
// line ('#' starts a comment), or Mesos' JSON form
// {"credentials":[{"principal":..,"secret":..}]}.
func ReadCredentials(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return ParseCredentials(path, b)
}

// ParseCredentials parses the contents b of the credentials file path (see
// ReadCredentials); empty principals and secrets are refused.
func ParseCredentials(path string, b []byte) (map[string]string, error) {
	creds := map[string]string{}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Credentials []struct{ Principal, Secret string } `json:"credentials"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("credentials %s: %w", path, err)
		}
		for i, c := range doc.Credentials {
			if c.Principal == "" || c.Secret == "" {
				return nil, fmt.Errorf("credentials %s: entry %d: empty principal or secret", path, i+1)
			}
			creds[c.Principal] = c.Secret
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, fmt.Errorf("credentials %s:%d: want \"principal secret\"", path, n)
			}
			creds[f[0]] = f[1]
		}
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("credentials %s: no credentials", path)
	}
	return creds, nil
}

// ReadSecretFile reads a cluster secret: the file's contents without
// surrounding whitespace, which must not be empty.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cluster secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("cluster secret %s: the file is empty", path)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("cluster secret %s: want one line", path)
	}
	return s, nil
}
