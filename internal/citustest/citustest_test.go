package citustest

import (
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestClusterRunsWindowsOnWorkers: the cluster has its workers, COPY-like
// inserts into a table distributed by a key land on their shards, and a
// window function PARTITION BY that key runs as one task per shard on the
// workers, with the answer a single server gives.
func TestClusterRunsWindowsOnWorkers(t *testing.T) {
	c := Start(t, 2)
	ctx := context.Background()
	db, err := sqlx.Open("postgres", c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var nodes int
	if err := db.Get(&nodes, `SELECT count(*) FROM citus_get_active_worker_nodes()`); err != nil || nodes != 2 {
		t.Fatalf("active workers: %d, %v; want 2", nodes, err)
	}
	for _, q := range []string{
		`CREATE TABLE records (lineage text NOT NULL, t bigint NOT NULL, fill boolean NOT NULL, ident text)`,
		`SELECT create_distributed_table('records', 'lineage')`,
		`INSERT INTO records SELECT 'pop' || (i % 37) || ' /mypage', i, i % 5 = 0, CASE WHEN i % 3 = 0 THEN NULL ELSE 'u' || (i % 11) END
			FROM generate_series(1, 20000) i`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The owner of each response: the identity of the latest FILL before it
	// on the same lineage (the heart of the cache lineage, as SQL).
	const owners = `SELECT count(*) FILTER (WHERE owner IS NOT NULL), count(DISTINCT owner) FROM (
		SELECT (array_agg(ident) FILTER (WHERE fill) OVER (PARTITION BY lineage ORDER BY t))[
			count(*) FILTER (WHERE fill) OVER (PARTITION BY lineage ORDER BY t)] AS owner
		FROM records) x`
	var distributed [2]int
	if err := db.QueryRowContext(ctx, owners).Scan(&distributed[0], &distributed[1]); err != nil {
		t.Fatal(err)
	}
	var plan []string
	if err := db.Select(&plan, `EXPLAIN `+owners); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "Task Count: 32") || !strings.Contains(p, "Custom Scan (Citus Adaptive)") {
		t.Errorf("the window query does not run as one task per shard on the workers:\n%s", p)
	}
	// The same on a plain table on the coordinator alone.
	for _, q := range []string{`CREATE TABLE local_records AS SELECT * FROM records`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var local [2]int
	if err := db.QueryRowContext(ctx, strings.ReplaceAll(owners, "FROM records", "FROM local_records")).Scan(&local[0], &local[1]); err != nil {
		t.Fatal(err)
	}
	if distributed != local || distributed[0] == 0 {
		t.Errorf("owners on the cluster %v, on one server %v", distributed, local)
	}
}
