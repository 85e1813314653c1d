package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.Database.Driver != "sqlite" || c.Database.DSN != "data/chatty.db" ||
		c.UploadDir != "uploads" || c.PublicURL != "http://localhost:8080" || c.RedisURL != "" {
		t.Fatalf("defaults = %+v", c)
	}
	if c.DBTimeout != 10*time.Second || c.Database.LockTimeout != 5*time.Second || c.Database.MaxOpenConns != 0 || c.Database.MaxIdleConns != 0 {
		t.Fatalf("database limits: timeout %v, lock timeout %v, pool %d/%d", c.DBTimeout, c.Database.LockTimeout, c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
	if !c.JWTSecretGenerated || len(c.JWTSecret) != 32 {
		t.Fatalf("an unset secret must be generated (32 random bytes), got %d bytes, generated=%v", len(c.JWTSecret), c.JWTSecretGenerated)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := Load([]string{"-addr", "127.0.0.1:9000"}, env(map[string]string{
		"CHATTY_ADDR":            ":7000",
		"CHATTY_PUBLIC_URL":      "https://chat.example.com/",
		"CHATTY_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000",
		"CHATTY_JWT_SECRET":      strings.Repeat("k", 32),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.PublicURL != "https://chat.example.com" || len(c.AllowedOrigins) != 2 || c.JWTSecretGenerated {
		t.Fatalf("config = %+v", c)
	}
}

func TestMySQLURL(t *testing.T) {
	db, err := ParseDatabaseURL("mysql://chat:s3cret@db.internal:3307/chatty?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"chat:s3cret@tcp(db.internal:3307)/chatty", "parseTime=true", "charset=utf8mb4", "timeout=5s"} {
		if db.Driver != "mysql" || !strings.Contains(db.DSN, want) {
			t.Errorf("DSN %q lacks %q", db.DSN, want)
		}
	}
	if db, _ := ParseDatabaseURL("mysql://root@127.0.0.1/test"); !strings.Contains(db.DSN, "tcp(127.0.0.1:3306)") {
		t.Errorf("default port: %q", db.DSN)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"CHATTY_ADDR":              {"CHATTY_ADDR": "8080"},
		"CHATTY_DATABASE_URL":      {"CHATTY_DATABASE_URL": "postgres://x/y"},
		"CHATTY_PUBLIC_URL":        {"CHATTY_PUBLIC_URL": "localhost:8080"},
		"CHATTY_JWT_SECRET":        {"CHATTY_JWT_SECRET": "short"},
		"CHATTY_REDIS_URL":         {"CHATTY_REDIS_URL": "localhost:6379"},
		"CHATTY_ALLOWED_ORIGINS":   {"CHATTY_ALLOWED_ORIGINS": "app.example.com"},
		"CHATTY_LOG_LEVEL":         {"CHATTY_LOG_LEVEL": "loud"},
		"CHATTY_DB_TIMEOUT":        {"CHATTY_DB_TIMEOUT": "10"},
		"CHATTY_DB_LOCK_TIMEOUT":   {"CHATTY_DB_LOCK_TIMEOUT": "500ms"},
		"CHATTY_DB_MAX_OPEN_CONNS": {"CHATTY_DB_MAX_OPEN_CONNS": "0"},
		"CHATTY_DB_MAX_IDLE_CONNS": {"CHATTY_DB_MAX_OPEN_CONNS": "4", "CHATTY_DB_MAX_IDLE_CONNS": "8"},
	}
	for variable, e := range cases {
		_, err := Load(nil, env(e))
		if err == nil {
			t.Errorf("%s=%v accepted", variable, e)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, variable) || strings.Contains(msg, "\n") {
			t.Errorf("error %q should be one line naming %s", msg, variable)
		}
	}
	_, err := Load(nil, env(map[string]string{"CHATTY_DATABASE_URL": "mysql://u:hunter2@/"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad MySQL URL must be refused without printing its password: %v", err)
	}
}

func TestDatabaseLimits(t *testing.T) {
	c, err := Load([]string{"-db-timeout", "1500ms"}, env(map[string]string{
		"CHATTY_DB_LOCK_TIMEOUT":   "3s",
		"CHATTY_DB_MAX_OPEN_CONNS": "16",
		"CHATTY_DB_MAX_IDLE_CONNS": "4",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DBTimeout != 1500*time.Millisecond || c.Database.LockTimeout != 3*time.Second || c.Database.MaxOpenConns != 16 || c.Database.MaxIdleConns != 4 {
		t.Fatalf("database limits: timeout %v, lock timeout %v, pool %d/%d", c.DBTimeout, c.Database.LockTimeout, c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
}
