//go:build race

package sqlite

// raceEnabled: the race detector's instrumentation moves some stack
// values to the heap, so allocation counts differ under it.
const raceEnabled = true
