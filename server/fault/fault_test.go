package fault

import (
	"slices"
	"sort"
	"testing"
)

func TestFieldPathsSortNaturally(t *testing.T) {
	t.Parallel()
	got := []string{"records[10].id", "records[2].unit", "records[2].id", "records", "a", "records[01].x", "records[100]"}
	sort.SliceStable(got, func(i, j int) bool { return naturalLess(got[i], got[j]) })
	want := []string{"a", "records", "records[01].x", "records[2].id", "records[2].unit", "records[10].id", "records[100]"}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
