//go:build !linux

package main

import "os/exec"

func configureChild(*exec.Cmd) {}

func peakRSS(int) (int64, error) { return 0, errNoRSS }
