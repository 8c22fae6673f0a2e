//go:build !race

package server

import "testing"

func skipUnderRace(*testing.T) {}
