package correlate

// SetEventBlockForTest makes sinks keep n events per block; the returned
// func restores the default. Not for parallel tests.
func SetEventBlockForTest(n int) (restore func()) {
	old := eventBlock
	eventBlock = n
	return func() { eventBlock = old }
}
