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
		"CHATTY_ADDR":                      {"CHATTY_ADDR": "8080"},
		"CHATTY_DATABASE_URL":              {"CHATTY_DATABASE_URL": "postgres://x/y"},
		"CHATTY_PUBLIC_URL":                {"CHATTY_PUBLIC_URL": "localhost:8080"},
		"CHATTY_JWT_SECRET":                {"CHATTY_JWT_SECRET": "short"},
		"CHATTY_REDIS_URL":                 {"CHATTY_REDIS_URL": "localhost:6379"},
		"CHATTY_ALLOWED_ORIGINS":           {"CHATTY_ALLOWED_ORIGINS": "app.example.com"},
		"CHATTY_LOG_LEVEL":                 {"CHATTY_LOG_LEVEL": "loud"},
		"CHATTY_TRUSTED_PROXIES":           {"CHATTY_TRUSTED_PROXIES": "10.0.0.0/8, load-balancer.internal"},
		"CHATTY_PASSWORD_HASH_CONCURRENCY": {"CHATTY_PASSWORD_HASH_CONCURRENCY": "0"},
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

func TestTrustedProxiesAndHashConcurrency(t *testing.T) {
	c, err := Load(nil, env(map[string]string{
		"CHATTY_TRUSTED_PROXIES":           " 10.1.2.3/8, 192.168.1.10 ,::ffff:172.16.0.1, fd00::/8",
		"CHATTY_PASSWORD_HASH_CONCURRENCY": "3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.0/8 192.168.1.10/32 172.16.0.1/32 fd00::/8"; strings.Join(got, " ") != want {
		t.Errorf("trusted proxies = %v, want %s", got, want)
	}
	if c.PasswordHashConcurrency != 3 {
		t.Errorf("password hash concurrency = %d, want 3", c.PasswordHashConcurrency)
	}
	if c, _ := Load(nil, env(nil)); len(c.TrustedProxies) != 0 || c.PasswordHashConcurrency != 0 {
		t.Errorf("defaults: trusted proxies %v, hash concurrency %d; want none and 0 (2 x GOMAXPROCS)", c.TrustedProxies, c.PasswordHashConcurrency)
	}
}
