// Package kdftest holds the one cheap key derivation that tests use, so
// that keys are made in microseconds instead of the seconds that
// crypto.DefaultKDF costs. It imports only crypto, so the internal tests
// of crypto and repo can use it too.
package kdftest

import "github.com/cairnbackup/cairn/crypto"

// Cheap is the smallest argon2id cost crypto accepts with one thread:
// fast enough for tests, never for real repositories.
var Cheap = crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
