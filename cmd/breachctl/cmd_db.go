package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/store"
)

func newDBCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the case database",
		Args:  noArgs,
	}
	cmd.AddCommand(newDBMigrateCmd(d))
	return cmd
}

func newDBMigrateCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the case database schema",
		Long: `Create or upgrade the case database schema ("breachctl") by applying the
embedded migrations in order, each in its own transaction. Running it again is
a no-op. Every other command that uses the case database does this too.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDBMigrate(cmd.Context(), d)
		},
	}
}

func runDBMigrate(ctx context.Context, d *deps) error {
	u, err := d.caseDBURL()
	if err != nil {
		return err
	}
	db, err := store.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("case database %s: %w", store.Redact(u), err)
	}
	s := &store.Store{DB: db}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := s.Version(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(d.io.Out, "case database is up to date (schema version %d)\n", v)
		return nil
	}
	for _, a := range applied {
		fmt.Fprintf(d.io.Out, "applied %s\n", a)
	}
	fmt.Fprintf(d.io.Out, "case database at schema version %d\n", v)
	return nil
}
