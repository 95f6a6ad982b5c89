package correlate

import "testing"

func TestBatchSize(t *testing.T) {
	tests := []struct{ n, limit, want int }{
		{0, 600_000, 1},
		{1, 600_000, 1},
		{30_000, 600_000, 30_000},     // halves would be under 20,000: one query
		{40_000, 600_000, 20_000},     // two halves at once
		{900_000, 600_000, 450_000},   // 2 batches, not 600k + 300k
		{1_150_000, 600_000, 575_000}, // 2
		{1_300_000, 600_000, 325_000}, // 3 rounded up to 4
		{1_000_000, 10_000, 10_000},   // a small limit is kept
		{25_000, 10_000, 10_000},      // even when batches are small
	}
	for _, tc := range tests {
		got := batchSize(tc.n, tc.limit, 2)
		if got != tc.want {
			t.Errorf("batchSize(%d, %d, 2) = %d, want %d", tc.n, tc.limit, got, tc.want)
		}
		if got > tc.limit {
			t.Errorf("batchSize(%d, %d, 2) = %d, over the limit", tc.n, tc.limit, got)
		}
	}
}
