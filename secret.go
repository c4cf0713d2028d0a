package mesosgot

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// readSecretFile reads the framework's authentication secret from path.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("mesosgot: reading the authentication secret file: %w", err)
	}
	s, err := parseSecret(b)
	if err != nil {
		return "", fmt.Errorf("mesosgot: authentication secret file %s: %w", path, err)
	}
	return s, nil
}

// parseSecret returns the secret in a secret file's contents b: surrounding
// white space (a trailing newline, stray spaces) is not part of it, as in
// Mesos, and an empty secret is refused.
func parseSecret(b []byte) (string, error) {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errors.New("the secret is empty")
	}
	return s, nil
}
