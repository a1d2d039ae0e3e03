// Package faultsuite holds no code, only tests: snapshot, restore, prune,
// check and copy run against an in-memory repository whose backend
// injects random faults from a seed (backend/faulty's random mode), below
// the retry decorator the command line uses. Each run either succeeds
// through retries or fails with an error; after each, a check without
// faults finds no damage, and a restore that succeeds wrote the bytes that
// were saved. CAIRN_SOAK=1 runs many seeds instead of a few.
package faultsuite
