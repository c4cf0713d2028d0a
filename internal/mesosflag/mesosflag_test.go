package mesosflag

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "15secs", want: 15 * time.Second},
		{in: "100ms", want: 100 * time.Millisecond},
		{in: "1.5mins", want: 90 * time.Second},
		{in: "2hrs", want: 2 * time.Hour},
		{in: "1days", want: 24 * time.Hour},
		{in: "1weeks", want: 7 * 24 * time.Hour},
		{in: "250us", want: 250 * time.Microsecond},
		{in: "10ns", want: 10},
		{in: "15s", want: 15 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: " 5secs ", want: 5 * time.Second},
		{in: "0secs", want: 0},
		{in: "secs", err: true},
		{in: "-1secs", err: true},
		{in: "-5s", err: true},
		{in: "5", err: true},
		{in: "five secs", err: true},
		{in: "", err: true},
		{in: "1e300weeks", err: true},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Second:        "15secs",
		100 * time.Millisecond:  "100ms",
		2 * time.Minute:         "2mins",
		1500 * time.Millisecond: "1500ms",
		0:                       "0ns",
		7:                       "7ns",
	} {
		assert.Equal(t, want, FormatDuration(d))
		back, err := ParseDuration(want)
		require.NoError(t, err)
		assert.Equal(t, d, back)
	}
}

func TestDurationFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	d := Duration{D: 15 * time.Second}
	fs.Var(&d, "agent_ping_timeout", "")
	require.NoError(t, fs.Parse([]string{"-agent_ping_timeout=100ms"}))
	assert.Equal(t, 100*time.Millisecond, d.D)
	assert.Error(t, fs.Parse([]string{"-agent_ping_timeout=soon"}))
}

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	got, err := ReadCredentials(write("plain", "# comment\nalice s3cret\n\nbob  pw\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": "s3cret", "bob": "pw"}, got)

	got, err = ReadCredentials(write("json", `{"credentials":[{"principal":"carol","secret":"x"}]}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"carol": "x"}, got)

	_, err = ReadCredentials(write("bad", "alice\n"))
	assert.Error(t, err)
	_, err = ReadCredentials(write("empty", "\n"))
	assert.Error(t, err)
	_, err = ReadCredentials(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	s, err := ReadSecretFile(write("ok", "  abc123\n"))
	require.NoError(t, err)
	assert.Equal(t, "abc123", s)
	for _, body := range []string{"", " \n", "a\nb"} {
		_, err := ReadSecretFile(write("bad", body))
		assert.Error(t, err, "%q", body)
	}
	_, err = ReadSecretFile(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}
