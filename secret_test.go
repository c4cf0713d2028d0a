package mesosgot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSecret(t *testing.T) {
	for in, want := range map[string]string{"s3cret\n": "s3cret", "  s3 cret \r\n": "s3 cret", "x": "x"} {
		got, err := parseSecret([]byte(in))
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"", "\n", " \t\r\n"} {
		_, err := parseSecret([]byte(in))
		assert.Error(t, err, "%q", in)
	}
}

func TestDriverConfigEmptySecretRefused(t *testing.T) {
	checkNoLeak(t)
	c := testSchedConfig(t)
	c.MesosAuthPrincipal = "fw-principal"
	c.MesosAuthSecretFile = writeTempFile(t, "secret", " \n")
	s := newTestScheduler(t, "", c)
	s.DriverConfig()
	require.Error(t, s.Err())
	assert.Contains(t, s.Err().Error(), "the secret is empty")
}

// FuzzParseSecret: any secret file contents give a non-empty secret without
// surrounding white space, or an error.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{"s3cret\n", "", " a b \r\n", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSecret(b)
		if err != nil {
			return
		}
		if s == "" || s[0] == ' ' || s[len(s)-1] == '\n' || s[len(s)-1] == ' ' {
			t.Fatalf("secret %q from %q", s, b)
		}
	})
}
