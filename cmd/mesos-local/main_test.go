package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	got, err := readCredentials(write("plain", "# comment\nalice s3cret\n\nbob  pw\n"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"alice": "s3cret", "bob": "pw"}, got)

	got, err = readCredentials(write("json", `{"credentials":[{"principal":"carol","secret":"x"}]}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"carol": "x"}, got)

	_, err = readCredentials(write("bad", "alice\n"))
	assert.Error(t, err)
	_, err = readCredentials(write("empty", "\n"))
	assert.Error(t, err)
	_, err = readCredentials(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}
