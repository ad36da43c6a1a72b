//go:build !race

package minidata_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
