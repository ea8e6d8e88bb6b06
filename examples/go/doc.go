// Package examples holds the asyncio lessons of the seed tutorials
// (../shared/seeds) in Go, as testable examples: `go test` runs each one and
// compares what it prints with its Output comment.  They mirror
// examples/c (the number in each name is the C example's).
package examples
