//go:build race

package web

// raceDetector is whether the tests run under -race, which makes bcrypt
// about ten times slower.
const raceDetector = true
