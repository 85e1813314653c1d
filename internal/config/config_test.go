package config

import (
	"strings"
	"testing"
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
	if c.UploadQuota != 1<<30 || c.ImageMemory != 512<<20 {
		t.Fatalf("upload quota %d, image memory %d", c.UploadQuota, c.ImageMemory)
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
		"CHATTY_ADDR":            {"CHATTY_ADDR": "8080"},
		"CHATTY_DATABASE_URL":    {"CHATTY_DATABASE_URL": "postgres://x/y"},
		"CHATTY_PUBLIC_URL":      {"CHATTY_PUBLIC_URL": "localhost:8080"},
		"CHATTY_JWT_SECRET":      {"CHATTY_JWT_SECRET": "short"},
		"CHATTY_REDIS_URL":       {"CHATTY_REDIS_URL": "localhost:6379"},
		"CHATTY_ALLOWED_ORIGINS": {"CHATTY_ALLOWED_ORIGINS": "app.example.com"},
		"CHATTY_LOG_LEVEL":       {"CHATTY_LOG_LEVEL": "loud"},
		"CHATTY_UPLOAD_QUOTA":    {"CHATTY_UPLOAD_QUOTA": "lots"},
		"CHATTY_IMAGE_MEMORY":    {"CHATTY_IMAGE_MEMORY": "1MiB"},
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

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1GiB": 1 << 30, "500MiB": 500 << 20, "2g": 2 << 30, "64 KiB": 64 << 10, "0": 0} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "1.5GiB", "-1", "1PB", "9999999999TiB"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}
