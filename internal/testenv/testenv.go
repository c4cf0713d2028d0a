// Package testenv decides what a test does when a real component it needs
// (ZooKeeper, Chromium, network namespaces as root, ...) is missing here.
//
// Outside CI the test is skipped with a loud message naming the component and
// how to get it. When MESOSGOT_REQUIRE_ALL=1 (set by .ci/run) the same call
// fails the test instead, so CI never passes by skipping.
package testenv

import (
	"os"
	"testing"
)

// RequireEnv is the environment variable that turns Missing skips into
// failures. .ci/run sets it to 1.
const RequireEnv = "MESOSGOT_REQUIRE_ALL"

// Required reports whether missing components fail tests (RequireEnv=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Missing ends the test because component is unavailable: a loud skip, or a
// failure when Required. why says what is missing and how to provide it.
func Missing(t testing.TB, component, why string) {
	t.Helper()
	msg := "!!! " + component + " unavailable, test NOT run: " + why
	if Required() {
		t.Fatalf("%s (%s=1 requires it)", msg, RequireEnv)
	}
	t.Skip(msg + " (set " + RequireEnv + "=1 to make this a failure)")
}
