// Package crashtest is the kill -9 harness shared by the crash tests of
// store and compute/runner: a test re-runs itself in a child process, the
// child works and prints a line for each thing it has acknowledged, and the
// parent records those lines, kills the child with SIGKILL once it has seen
// enough, records the lines still in the pipe (printed, so acknowledged,
// before the kill) and checks that the child died of the kill. The test then
// reopens what the child left on disk and checks every acknowledged thing.
//
// A test uses it in two places:
//
//	func TestCrash(t *testing.T) {
//		if dir, ok := crashtest.Child("FOG_X_CRASH_DIR"); ok {
//			child(dir) // works until killed
//			return
//		}
//		dir := t.TempDir()
//		crashtest.Run(t, crashtest.Config{Test: "TestCrash", Env: "FOG_X_CRASH_DIR", Dir: dir,
//			Record: record, Ready: ready, Timeout: 30 * time.Second})
//		// reopen dir and check what record saw
//	}
//
// There is no runnable Example: Run re-executes the test binary and needs
// a *testing.T, which an Example does not have; TestRun shows it at work.
//
// SIGKILL ends the process, not the machine: the kernel keeps what was
// written to the page cache, so these tests prove that acknowledged work is
// in the files (not in a buffer of the process), not that it survives power
// loss. Run is called from the test's goroutine and calls Record and Ready
// there, so they may use t.
package crashtest
