package mesosflag

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseCredentialsRefusesEmpty(t *testing.T) {
	for _, in := range []string{
		`{"credentials":[{"principal":"","secret":"x"}]}`,
		`{"credentials":[{"principal":"p","secret":""}]}`,
		`{"credentials":[{"principal":"p"}]}`,
		`{"credentials":[]}`,
	} {
		_, err := ParseCredentials("f", []byte(in))
		assert.Error(t, err, in)
	}
}

// FuzzParseCredentials: any credentials file gives non-empty principals
// and secrets without white space at their ends, or an error; never a
// panic.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		"alice s3cret\n", "# c\n\nbob pw\n", `{"credentials":[{"principal":"carol","secret":"x"}]}`,
		`{"credentials":[{"principal":"","secret":""}]}`, "alice\n", "{", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		creds, err := ParseCredentials("fuzz", b)
		if err != nil {
			return
		}
		if len(creds) == 0 {
			t.Fatal("no error and no credentials")
		}
		for p, s := range creds {
			if p == "" || s == "" {
				t.Fatalf("empty principal or secret: %q %q", p, s)
			}
			if !strings.HasPrefix(strings.TrimSpace(string(b)), "{") && (strings.TrimSpace(p) != p || strings.TrimSpace(s) != s) {
				t.Fatalf("white space kept: %q %q", p, s)
			}
		}
	})
}
