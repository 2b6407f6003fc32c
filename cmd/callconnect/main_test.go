package main

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// processTestParallelism is how many of this package's parallel tests run
// at once unless -parallel says otherwise. They start service processes,
// PostgreSQL clusters and partners, and spend most of their time waiting
// on them (River's rescue of a killed process's jobs every 30 s, drains,
// restarts, a partner holding requests): at go test's default of one per
// CPU they would queue behind each other's waits, and with -count=3 the
// package would outlast go test's 10-minute timeout on 2 cores. The fault
// suite at full size (make faults) makes its own load, and keeps go test's
// default.
const processTestParallelism = 6

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && os.Getenv("CALLCONNECT_FAULTS") != "full" {
		if err := flag.Set("test.parallel", strconv.Itoa(processTestParallelism)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
