//go:build race

package migrate

// raceEnabled makes slow tests smaller under the race detector (each
// message costs ~10x more there).
const raceEnabled = true
