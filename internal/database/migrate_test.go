package database_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
)

// Instances of a cluster start together, each migrating the database on
// start (make cluster does exactly that). On an empty MariaDB database
// two separate processes migrating at once used to collide: the second
// failed with "Table 'identities' already exists". Each migration here is
// its own process (this test binary run again), as in a cluster.
func TestMigrationsOfSeveralInstancesTakeTurns(t *testing.T) {
	if os.Getenv("CHATTY_TEST_MYSQL_DSN") == "" {
		t.Skip("MariaDB only (CHATTY_TEST_MYSQL_DSN): SQLite is one process's database")
	}
	for round := range 2 {
		cfg := dbtest.Config(t, "mysql")
		var wg sync.WaitGroup
		errs := make([]error, 3)
		out := make([][]byte, 3)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateHelperProcess$")
				cmd.Env = append(os.Environ(), "CHATTY_MIGRATE_HELPER_DSN="+cfg.DSN)
				out[i], errs[i] = cmd.CombinedOutput()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: instance %d failed to start: %v\n%s", round, i, err, out[i])
			}
		}
		// The schema is whole: a fresh instance finds nothing to do and
		// the tables answer.
		db := dbtest.OpenConfig(t, cfg)
		if _, err := db.Client.User.Query().Count(context.Background()); err != nil {
			t.Errorf("round %d: after the concurrent migrations: %v", round, err)
		}
	}
}

// TestMigrateHelperProcess is one instance's start for the test above:
// open the database and migrate it, as cmd/chatty does.
func TestMigrateHelperProcess(t *testing.T) {
	dsn := os.Getenv("CHATTY_MIGRATE_HELPER_DSN")
	if dsn == "" {
		t.Skip("run by TestMigrationsOfSeveralInstancesTakeTurns")
	}
	ctx := context.Background()
	db, err := database.Open(ctx, config.Database{Driver: "mysql", DSN: dsn})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}
