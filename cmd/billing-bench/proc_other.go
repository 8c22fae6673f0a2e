//go:build !linux

package main

import (
	"errors"
	"time"
)

func peakRSS(int) (int64, error) { return 0, errNoRSS }

func cpuTime(int) (time.Duration, error) { return 0, errors.New("CPU time is read from /proc") }
