package config

import (
	"cmp"
	"path/filepath"
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
	if c.NotificationRetention != 30*24*time.Hour {
		t.Fatalf("notification retention %v, want 30 days", c.NotificationRetention)
	}
	if c.UploadQuota != 1<<30 || c.ImageMemory != 512<<20 {
		t.Fatalf("upload quota %d, image memory %d", c.UploadQuota, c.ImageMemory)
	}
	if c.DBTimeout != 10*time.Second || c.Database.LockTimeout != 5*time.Second || c.Database.MaxOpenConns != 0 || c.Database.MaxIdleConns != 0 {
		t.Fatalf("database limits: timeout %v, lock timeout %v, pool %d/%d", c.DBTimeout, c.Database.LockTimeout, c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
	if !c.JWTSecretGenerated || len(c.JWTSecret) != 32 {
		t.Fatalf("an unset secret must be generated (32 random bytes), got %d bytes, generated=%v", len(c.JWTSecret), c.JWTSecretGenerated)
	}
}

func TestProductionSwitches(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" || !c.Introspection {
		t.Fatalf("defaults: metrics addr %q, introspection %v; want metrics on CHATTY_ADDR and introspection on", c.MetricsAddr, c.Introspection)
	}
	c, err = Load([]string{"-introspection=false"}, env(map[string]string{"CHATTY_METRICS_ADDR": "127.0.0.1:9090", "CHATTY_INTROSPECTION": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9090" || c.Introspection {
		t.Fatalf("set: metrics addr %q, introspection %v", c.MetricsAddr, c.Introspection)
	}
	if _, err := Load(nil, env(map[string]string{"CHATTY_ADDR": ":8080", "CHATTY_METRICS_ADDR": ":8080"})); err == nil || !strings.Contains(err.Error(), "CHATTY_METRICS_ADDR") {
		t.Fatalf("metrics on the main address itself: %v", err)
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
		"CHATTY_METRICS_ADDR":              {"CHATTY_METRICS_ADDR": "9090"},
		"CHATTY_INTROSPECTION":             {"CHATTY_INTROSPECTION": "off please"},
		"CHATTY_UPLOAD_QUOTA":              {"CHATTY_UPLOAD_QUOTA": "lots"},
		"CHATTY_IMAGE_MEMORY":              {"CHATTY_IMAGE_MEMORY": "1MiB"},
		"CHATTY_TRUSTED_PROXIES":           {"CHATTY_TRUSTED_PROXIES": "10.0.0.0/8, load-balancer.internal"},
		"CHATTY_PASSWORD_HASH_CONCURRENCY": {"CHATTY_PASSWORD_HASH_CONCURRENCY": "0"},
		"CHATTY_DB_TIMEOUT":                {"CHATTY_DB_TIMEOUT": "10"},
		"CHATTY_DB_LOCK_TIMEOUT":           {"CHATTY_DB_LOCK_TIMEOUT": "500ms"},
		"CHATTY_DB_MAX_OPEN_CONNS":         {"CHATTY_DB_MAX_OPEN_CONNS": "0"},
		"CHATTY_DB_MAX_IDLE_CONNS":         {"CHATTY_DB_MAX_OPEN_CONNS": "4", "CHATTY_DB_MAX_IDLE_CONNS": "8"},
		"CHATTY_NOTIFICATION_RETENTION":    {"CHATTY_NOTIFICATION_RETENTION": "30 days"},
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

// The Redis namespace: as configured, else derived from the database's
// identity and the Redis db number, so two deployments on one Redis differ
// and the instances of one deployment agree.
func TestRedisPrefix(t *testing.T) {
	prefix := func(e map[string]string) string {
		t.Helper()
		e["CHATTY_REDIS_URL"] = cmp.Or(e["CHATTY_REDIS_URL"], "redis://127.0.0.1:6379/0")
		c, err := Load(nil, env(e))
		if err != nil {
			t.Fatal(err)
		}
		return c.RedisPrefix
	}
	base := prefix(map[string]string{"CHATTY_DATABASE_URL": "mysql://chat:pw@db:3306/chatty"})
	if !strings.HasPrefix(base, "chatty:") || len(base) > 32 {
		t.Fatalf("derived prefix %q, want chatty:<short hash>", base)
	}
	same := []map[string]string{
		{"CHATTY_DATABASE_URL": "mysql://chat:pw@db:3306/chatty"},
		{"CHATTY_DATABASE_URL": "mysql://other:pw2@db/chatty?timeout=5s"}, // another user, default port
		{"CHATTY_DATABASE_URL": "mysql://chat:pw@db:3306/chatty", "CHATTY_REDIS_URL": "redis://other-host:6379"},
	}
	for _, e := range same {
		if p := prefix(e); p != base {
			t.Errorf("%v: prefix %q, want %q (the same database)", e, p, base)
		}
	}
	differ := []map[string]string{
		{"CHATTY_DATABASE_URL": "mysql://chat:pw@db:3306/chatty_test"},
		{"CHATTY_DATABASE_URL": "mysql://chat:pw@db2:3306/chatty"},
		{"CHATTY_DATABASE_URL": "mysql://chat:pw@db:3306/chatty", "CHATTY_REDIS_URL": "redis://127.0.0.1:6379/1"},
		{"CHATTY_DATABASE_URL": "sqlite:data/chatty.db"},
	}
	for _, e := range differ {
		if p := prefix(e); p == base {
			t.Errorf("%v: prefix %q, the same as another deployment's", e, p)
		}
	}
	abs, err := filepath.Abs("data/chatty.db")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := prefix(map[string]string{"CHATTY_DATABASE_URL": "sqlite:data/chatty.db"}), prefix(map[string]string{"CHATTY_DATABASE_URL": "sqlite:" + abs}); a != b {
		t.Errorf("one SQLite file by relative and absolute path: %q and %q", a, b)
	}
	if p := prefix(map[string]string{"CHATTY_REDIS_PREFIX": "staging"}); p != "staging" {
		t.Errorf("configured prefix: got %q", p)
	}
	_, err = Load(nil, env(map[string]string{"CHATTY_REDIS_URL": "redis://127.0.0.1:6379/0", "CHATTY_REDIS_PREFIX": "has space"}))
	if err == nil || !strings.Contains(err.Error(), "CHATTY_REDIS_PREFIX") {
		t.Errorf("a bad prefix: %v, want an error naming CHATTY_REDIS_PREFIX", err)
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

func TestNotificationRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "7d": 7 * 24 * time.Hour, "72h": 72 * time.Hour, "90m": 90 * time.Minute} {
		c, err := Load(nil, env(map[string]string{"CHATTY_NOTIFICATION_RETENTION": in}))
		if err != nil || c.NotificationRetention != want {
			t.Errorf("CHATTY_NOTIFICATION_RETENTION=%s: %v, %v; want %v", in, c, err, want)
		}
	}
	for _, bad := range []string{"0d", "59m", "-1d", "1w", "d"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("retention %q accepted", bad)
		}
	}
}

func TestStorageURL(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil || c.Storage != nil {
		t.Fatalf("default storage: %+v, %v; want the upload directory", c.Storage, err)
	}
	c, err = Load(nil, env(map[string]string{"CHATTY_STORAGE_URL": "s3://chat-files/prod?endpoint=http://127.0.0.1:8333&region=ap-northeast-2"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Storage; s == nil || s.Bucket != "chat-files" || s.Prefix != "prod/" || s.Endpoint != "127.0.0.1:8333" || s.Secure || s.Region != "ap-northeast-2" {
		t.Fatalf("storage %+v", c.Storage)
	}
	c, err = Load(nil, env(map[string]string{"CHATTY_STORAGE_URL": "s3://b?endpoint=minio.internal:9000"}))
	if err != nil || c.Storage.Endpoint != "minio.internal:9000" || !c.Storage.Secure || c.Storage.Prefix != "" {
		t.Fatalf("bare endpoint: %+v, %v; want HTTPS", c.Storage, err)
	}
	for _, bad := range []string{
		"http://bucket", "s3://", "s3://?endpoint=http://h:1", "s3://key:secret@b", "s3://b?endpoint=ftp://h",
		"s3://b?endpoint=http://h/path", "s3://b?bucket=x", "s3://b/../x", "s3://b?endpoint=http://",
	} {
		_, err := Load(nil, env(map[string]string{"CHATTY_STORAGE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "CHATTY_STORAGE_URL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// CHATTY_DEMO=1 adds accounts whose password is in the README: it is
// refused unless the server listens on, and is addressed as, this
// machine only (so a production deployment can't start with it by
// accident).
func TestDemoOnlyOnThisMachine(t *testing.T) {
	for _, ok := range []map[string]string{
		{"CHATTY_ADDR": "127.0.0.1:8080"},
		{"CHATTY_ADDR": "[::1]:8080", "CHATTY_PUBLIC_URL": "http://[::1]:8080"},
		{"CHATTY_ADDR": "localhost:0", "CHATTY_PUBLIC_URL": "http://127.0.0.1:8080"},
	} {
		ok["CHATTY_DEMO"] = "1"
		c, err := Load(nil, env(ok))
		if err != nil || !c.Demo {
			t.Fatalf("%v: %v", ok, err)
		}
	}
	for _, bad := range []map[string]string{
		{}, // the default address, :8080, is every interface
		{"CHATTY_ADDR": "0.0.0.0:8080"},
		{"CHATTY_ADDR": "192.168.1.5:8080"},
		{"CHATTY_ADDR": "127.0.0.1:8080", "CHATTY_PUBLIC_URL": "https://chat.example.com"},
		{"CHATTY_ADDR": "127.0.0.1:8080", "CHATTY_PUBLIC_URL": "http://10.0.0.2:8080"},
	} {
		bad["CHATTY_DEMO"] = "1"
		if _, err := Load(nil, env(bad)); err == nil || !strings.Contains(err.Error(), "CHATTY_DEMO") {
			t.Fatalf("%v: %v, want a refusal naming CHATTY_DEMO", bad, err)
		}
	}
	// Without the demo, any address goes.
	if _, err := Load(nil, env(map[string]string{"CHATTY_ADDR": "0.0.0.0:8080", "CHATTY_PUBLIC_URL": "https://chat.example.com"})); err != nil {
		t.Fatal(err)
	}
}

// Credentials written into the endpoint of CHATTY_STORAGE_URL are refused
// (they were silently dropped), and the refusal does not repeat them: it
// may end up in a log.
func TestStorageURLEndpointCredentialsNotEchoed(t *testing.T) {
	for _, raw := range []string{
		"s3://b?endpoint=https://AKIAEXAMPLE:s3cr3t-key@minio.internal:9000",
		"s3://b?endpoint=http://AKIAEXAMPLE:s3cr3t-key@h/path",
	} {
		_, err := Load(nil, env(map[string]string{"CHATTY_STORAGE_URL": raw}))
		if err == nil || !strings.Contains(err.Error(), "CHATTY_STORAGE_URL") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: %v; want a refusal without the secret", raw, err)
		}
	}
}
