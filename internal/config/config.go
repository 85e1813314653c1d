// Package config reads chatty's configuration from the environment, with
// command-line flags mirroring every variable (a flag wins over its variable).
package config

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/upload"
)

// Config is everything chatty needs to start.
type Config struct {
	Addr        string
	DatabaseURL string
	UploadDir   string
	// StorageURL is CHATTY_STORAGE_URL; Storage is it parsed, nil when
	// files stay in UploadDir.
	StorageURL string
	Storage    *upload.S3Config
	PublicURL  string
	JWTSecret  string
	RedisURL   string
	// RedisPrefix namespaces every Redis channel and key: as configured, or
	// derived from the database's identity and the Redis db number.
	RedisPrefix    string
	AllowedOrigins []string
	LogLevel       slog.Level
	// MetricsAddr, when set, is where /metrics is served instead of Addr.
	MetricsAddr string
	// Introspection answers __schema and __type queries (GraphiQL needs it).
	Introspection bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// PasswordHashConcurrency bounds the password hashes run at once (0: 2×GOMAXPROCS).
	PasswordHashConcurrency int
	// DBTimeout bounds the database work of one request (an HTTP
	// operation, a WebSocket query or mutation): past it the request is
	// answered SERVICE_UNAVAILABLE (10 s).
	DBTimeout time.Duration
	// OAuth holds the client credentials of each configured provider
	// (GOOGLE, NAVER, KAKAO); a provider without them is not offered.
	OAuth map[string]OAuthClient

	// UploadQuota is how many bytes of files one user may keep stored.
	UploadQuota int64
	// ImageMemory bounds the memory image decodes running at once may take.
	ImageMemory int64
	// Demo fills an empty database with demo accounts and a conversation.
	Demo bool
	// NotificationRetention is how long stored notifications are kept
	// (30 days): older ones are pruned.
	NotificationRetention time.Duration

	// Database is DatabaseURL, parsed.
	Database Database
	// JWTSecretGenerated is true when no secret was configured and a random
	// one was made for this process: tokens die with it.
	JWTSecretGenerated bool
}

// OAuthClient is chatty's registration at an OAuth provider.
type OAuthClient struct{ ID, Secret string }

// Database says which driver to open and with what DSN, and how to pool it.
type Database struct {
	Driver string // "sqlite" or "mysql"
	DSN    string
	// MaxOpenConns caps the pool (0: 32 on MySQL, 8 on SQLite);
	// MaxIdleConns the connections kept open while idle (0: half of it).
	MaxOpenConns, MaxIdleConns int
	// LockTimeout bounds one wait for a lock (0: 5 s): MySQL's
	// innodb_lock_wait_timeout and lock_wait_timeout (whole seconds, at
	// least 1), SQLite's busy_timeout.
	LockTimeout time.Duration
}

type setting struct {
	env, flag, def, help string
	dst                  *string
}

// Load reads the configuration from getenv and args (without the program
// name) and validates it. Errors name the variable at fault in one line.
func Load(args []string, getenv func(string) string) (*Config, error) {
	var c Config
	var demo string
	var origins, level, introspection, quota, imageMemory, proxies, hashes string
	var dbTimeout, lockTimeout, maxOpen, maxIdle, retention string
	var googleID, googleSecret, naverID, naverSecret, kakaoID, kakaoSecret string
	settings := []setting{
		{"CHATTY_ADDR", "addr", ":8080", "address to listen on", &c.Addr},
		{"CHATTY_DATABASE_URL", "database-url", "sqlite:data/chatty.db", "sqlite:PATH or mysql://user:pass@host:port/dbname", &c.DatabaseURL},
		{"CHATTY_DB_TIMEOUT", "db-timeout", "10s", "deadline of one request's database work; past it SERVICE_UNAVAILABLE", &dbTimeout},
		{"CHATTY_DB_LOCK_TIMEOUT", "db-lock-timeout", "5s", "longest wait for a row or table lock (MySQL, whole seconds) or the database lock (SQLite)", &lockTimeout},
		{"CHATTY_DB_MAX_OPEN_CONNS", "db-max-open-conns", "", "database connections at most (default 32 on MySQL, 8 on SQLite)", &maxOpen},
		{"CHATTY_DB_MAX_IDLE_CONNS", "db-max-idle-conns", "", "idle database connections kept open (default half the open ones)", &maxIdle},
		{"CHATTY_UPLOAD_DIR", "upload-dir", "uploads", "directory for uploaded files (when CHATTY_STORAGE_URL is empty)", &c.UploadDir},
		{"CHATTY_STORAGE_URL", "storage-url", "", "s3://bucket[/prefix]?endpoint=http(s)://host:port&region=… keeps files in S3-compatible storage (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); empty: CHATTY_UPLOAD_DIR", &c.StorageURL},
		{"CHATTY_PUBLIC_URL", "public-url", "http://localhost:8080", "base of the absolute URLs chatty hands out", &c.PublicURL},
		{"CHATTY_JWT_SECRET", "jwt-secret", "", "HMAC key for access tokens, at least 32 bytes (random per start when empty)", &c.JWTSecret},
		{"CHATTY_REDIS_URL", "redis-url", "", "redis://host:port/db for pub/sub between instances (in-memory when empty)", &c.RedisURL},
		{"CHATTY_REDIS_PREFIX", "redis-prefix", "", "namespace of every Redis channel and key (derived from the database and Redis db number when empty)", &c.RedisPrefix},
		{"CHATTY_ALLOWED_ORIGINS", "allowed-origins", "", "comma-separated browser origins allowed besides CHATTY_PUBLIC_URL's, or *", &origins},
		{"CHATTY_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", &level},
		{"CHATTY_METRICS_ADDR", "metrics-addr", "", "serve /metrics on this host:port only, not on CHATTY_ADDR (empty: on CHATTY_ADDR)", &c.MetricsAddr},
		{"CHATTY_INTROSPECTION", "introspection", "true", "answer __schema/__type queries (GraphiQL needs them); false in production", &introspection},
		{"CHATTY_UPLOAD_QUOTA", "upload-quota", "1GiB", "bytes of files one user may keep stored (e.g. 500MiB, 2GiB)", &quota},
		{"CHATTY_IMAGE_MEMORY", "image-memory", "512MiB", "memory image decodes may take at once; one image at most half (e.g. 256MiB)", &imageMemory},
		{"CHATTY_NOTIFICATION_RETENTION", "notification-retention", "30d", "how long stored notifications are kept before pruning (e.g. 30d, 72h; at least 1h)", &retention},
		{"CHATTY_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated IPs or CIDRs of proxies whose X-Forwarded-For is believed", &proxies},
		{"CHATTY_PASSWORD_HASH_CONCURRENCY", "password-hash-concurrency", "", "password hashes run at once, 19 MiB each (empty: 2 x GOMAXPROCS)", &hashes},
		{"CHATTY_DEMO", "demo", "false", "fill an empty database with two demo accounts and a conversation (README, Demo)", &demo},
		{"CHATTY_GOOGLE_CLIENT_ID", "google-client-id", "", "OAuth client id at Google (enables GOOGLE sign-in)", &googleID},
		{"CHATTY_GOOGLE_CLIENT_SECRET", "google-client-secret", "", "OAuth client secret at Google", &googleSecret},
		{"CHATTY_NAVER_CLIENT_ID", "naver-client-id", "", "OAuth client id at Naver (enables NAVER sign-in)", &naverID},
		{"CHATTY_NAVER_CLIENT_SECRET", "naver-client-secret", "", "OAuth client secret at Naver", &naverSecret},
		{"CHATTY_KAKAO_CLIENT_ID", "kakao-client-id", "", "REST API key at Kakao (enables KAKAO sign-in)", &kakaoID},
		{"CHATTY_KAKAO_CLIENT_SECRET", "kakao-client-secret", "", "client secret at Kakao (if enabled there)", &kakaoSecret},
	}
	fs := flag.NewFlagSet("chatty", flag.ContinueOnError)
	byFlag := map[string]setting{}
	for _, s := range settings {
		def := s.def
		if v, ok := lookup(getenv, s.env); ok {
			def = v
		}
		fs.StringVar(s.dst, s.flag, def, fmt.Sprintf("%s (env %s)", s.help, s.env))
		byFlag[s.flag] = s
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	c.AllowedOrigins = splitList(origins)
	c.OAuth = map[string]OAuthClient{}
	for _, p := range []struct {
		name, id, secret string
		secretRequired   bool
	}{{"GOOGLE", googleID, googleSecret, true}, {"NAVER", naverID, naverSecret, true}, {"KAKAO", kakaoID, kakaoSecret, false}} {
		switch {
		case p.id == "" && p.secret != "":
			return nil, fmt.Errorf("config: CHATTY_%s_CLIENT_ID: set it too, or unset CHATTY_%s_CLIENT_SECRET", p.name, p.name)
		case p.id != "" && p.secret == "" && p.secretRequired:
			return nil, fmt.Errorf("config: CHATTY_%s_CLIENT_SECRET: required with CHATTY_%s_CLIENT_ID", p.name, p.name)
		case p.id != "":
			c.OAuth[p.name] = OAuthClient{ID: p.id, Secret: p.secret}
		}
	}
	var err error
	if err = c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("config: CHATTY_LOG_LEVEL: want debug, info, warn or error, got %q", level)
	}
	if c.Introspection, err = strconv.ParseBool(introspection); err != nil {
		return nil, fmt.Errorf("config: CHATTY_INTROSPECTION: want true or false, got %q", introspection)
	}
	if c.Demo, err = strconv.ParseBool(demo); err != nil {
		return nil, fmt.Errorf("config: CHATTY_DEMO: want 1 or 0 (true or false), got %q", demo)
	}
	if c.UploadQuota, err = ParseBytes(quota); err != nil || c.UploadQuota <= 0 {
		return nil, fmt.Errorf("config: CHATTY_UPLOAD_QUOTA: want a size such as 1GiB or 500MiB, got %q", quota)
	}
	if c.ImageMemory, err = ParseBytes(imageMemory); err != nil || c.ImageMemory < 16<<20 {
		return nil, fmt.Errorf("config: CHATTY_IMAGE_MEMORY: want a size of at least 16MiB such as 512MiB, got %q", imageMemory)
	}
	if c.TrustedProxies, err = ParseTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("config: CHATTY_TRUSTED_PROXIES: %w", err)
	}
	if hashes != "" {
		n, err := strconv.Atoi(hashes)
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("config: CHATTY_PASSWORD_HASH_CONCURRENCY: want a number from 1 to 4096, got %q", hashes)
		}
		c.PasswordHashConcurrency = n
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := c.databaseLimits(dbTimeout, lockTimeout, maxOpen, maxIdle); err != nil {
		return nil, err
	}
	if c.NotificationRetention, err = ParseRetention(retention); err != nil {
		return nil, fmt.Errorf("config: CHATTY_NOTIFICATION_RETENTION: want a duration of at least 1h such as 30d or 72h, got %q", retention)
	}
	return &c, nil
}

// ParseRetention reads a retention period: a whole number of days ("30d")
// or a Go duration ("72h"), at least an hour.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if d < time.Hour {
		return 0, fmt.Errorf("retention %s is under an hour", d)
	}
	return d, nil
}

// ParseBytes reads a size: a number of bytes, optionally followed by KiB,
// MiB, GiB or TiB (or K, M, G, T, the same), e.g. "1GiB", "500MiB", "1048576".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimSpace(s[len(num):])
	var shift uint
	switch strings.ToLower(unit) {
	case "", "b":
	case "k", "kib":
		shift = 10
	case "m", "mib":
		shift = 20
	case "g", "gib":
		shift = 30
	case "t", "tib":
		shift = 40
	default:
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n << shift, nil
}

// databaseLimits parses the deadline, lock timeout and pool sizes.
func (c *Config) databaseLimits(timeout, lock, maxOpen, maxIdle string) error {
	var err error
	// An answer is written within the HTTP server's 30 s write timeout.
	if c.DBTimeout, err = time.ParseDuration(timeout); err != nil || c.DBTimeout < 100*time.Millisecond || c.DBTimeout > 20*time.Second {
		return fmt.Errorf("config: CHATTY_DB_TIMEOUT: want a duration from 100ms to 20s such as 10s, got %q", timeout)
	}
	if c.Database.LockTimeout, err = time.ParseDuration(lock); err != nil || c.Database.LockTimeout < time.Second {
		return fmt.Errorf("config: CHATTY_DB_LOCK_TIMEOUT: want a duration of at least 1s such as 5s, got %q", lock)
	}
	for _, p := range []struct {
		name, v string
		dst     *int
	}{{"CHATTY_DB_MAX_OPEN_CONNS", maxOpen, &c.Database.MaxOpenConns}, {"CHATTY_DB_MAX_IDLE_CONNS", maxIdle, &c.Database.MaxIdleConns}} {
		if p.v == "" {
			continue
		}
		n, err := strconv.Atoi(p.v)
		if err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("config: %s: want a whole number from 1 to 10000, got %q", p.name, p.v)
		}
		*p.dst = n
	}
	if c.Database.MaxOpenConns > 0 && c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		return fmt.Errorf("config: CHATTY_DB_MAX_IDLE_CONNS: %d is more than CHATTY_DB_MAX_OPEN_CONNS (%d)", c.Database.MaxIdleConns, c.Database.MaxOpenConns)
	}
	return nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := strings.TrimSpace(getenv(key))
	return v, v != ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) validate() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return fmt.Errorf("config: CHATTY_ADDR: want host:port or :port, got %q", c.Addr)
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil || port == "" {
			return fmt.Errorf("config: CHATTY_METRICS_ADDR: want host:port or :port, got %q", c.MetricsAddr)
		}
		if c.MetricsAddr == c.Addr && port != "0" {
			return fmt.Errorf("config: CHATTY_METRICS_ADDR: must differ from CHATTY_ADDR (%q); leave it empty to serve /metrics there", c.Addr)
		}
	}
	db, err := ParseDatabaseURL(c.DatabaseURL)
	if err != nil {
		return fmt.Errorf("config: CHATTY_DATABASE_URL: %w", err)
	}
	c.Database = db
	if c.Storage, err = upload.ParseStorageURL(c.StorageURL); err != nil {
		return fmt.Errorf("config: CHATTY_STORAGE_URL: %w", err)
	}
	if c.Storage == nil && strings.TrimSpace(c.UploadDir) == "" {
		return errors.New("config: CHATTY_UPLOAD_DIR: must not be empty")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("config: CHATTY_PUBLIC_URL: want an absolute http(s) URL such as https://chat.example.com, got %q", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Demo {
		// The demo accounts' password is in the README: anyone who can
		// reach the server could sign in as them. Only on this machine.
		host, _, _ := net.SplitHostPort(c.Addr)
		if !loopback(host) {
			return fmt.Errorf("config: CHATTY_DEMO: the demo accounts' password is public (README, Demo): listen on this machine only (CHATTY_ADDR 127.0.0.1:8080 or [::1]:8080, as make demo does), got %q", c.Addr)
		}
		if !loopback(u.Hostname()) {
			return fmt.Errorf("config: CHATTY_DEMO: the demo accounts' password is public (README, Demo): only with a CHATTY_PUBLIC_URL on this machine (localhost, 127.0.0.1, [::1]), got %q", c.PublicURL)
		}
	}
	switch {
	case c.JWTSecret == "":
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		c.JWTSecret = string(b)
		c.JWTSecretGenerated = true
	case len(c.JWTSecret) < 32:
		return fmt.Errorf("config: CHATTY_JWT_SECRET: must be at least 32 bytes, got %d", len(c.JWTSecret))
	}
	if c.RedisURL != "" {
		r, err := url.Parse(c.RedisURL)
		if err != nil || (r.Scheme != "redis" && r.Scheme != "rediss") || r.Host == "" {
			return fmt.Errorf("config: CHATTY_REDIS_URL: want redis://host:port[/db], got %q", redact(c.RedisURL))
		}
		if c.RedisPrefix == "" {
			c.RedisPrefix = DefaultRedisPrefix(c.Database, redisDB(r))
		}
		if err := pubsub.CheckPrefix(c.RedisPrefix); err != nil {
			return fmt.Errorf("config: CHATTY_REDIS_PREFIX: %w", err)
		}
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("config: CHATTY_ALLOWED_ORIGINS: want origins such as https://app.example.com or *, got %q", o)
		}
	}
	return nil
}

// redisDB is the database number of a Redis URL (its path; 0 when none).
func redisDB(u *url.URL) string {
	db := strings.Trim(u.Path, "/")
	if db == "" {
		return "0"
	}
	return db
}

// DefaultRedisPrefix is the Redis namespace of a deployment that sets no
// CHATTY_REDIS_PREFIX: "chatty:" and a short hash of the database's
// identity (MySQL host:port/dbname, or SQLite's absolute path) and the
// Redis db number. Instances of one deployment name the same database and
// so share it; deployments on other databases, or on another Redis db
// number, never meet (Redis pub/sub ignores the db number by itself).
func DefaultRedisPrefix(db Database, redisDB string) string {
	id := db.Driver + ":" + db.DSN
	switch db.Driver {
	case "sqlite":
		if abs, err := filepath.Abs(db.DSN); err == nil && db.DSN != ":memory:" {
			id = "sqlite:" + abs
		}
	case "mysql":
		if cfg, err := mysql.ParseDSN(db.DSN); err == nil {
			id = "mysql:" + cfg.Net + "(" + strings.ToLower(cfg.Addr) + ")/" + cfg.DBName
		}
	}
	sum := sha256.Sum256([]byte(id + "\x00redis-db=" + redisDB))
	return "chatty:" + hex.EncodeToString(sum[:6])
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR prefixes ("10.0.0.0/8, 192.168.1.10, fd00::/8").
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range splitList(s) {
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("want IP addresses or CIDRs such as 10.0.0.0/8, got %q", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// RedisURLRedacted is RedisURL without its password, for logs.
func (c *Config) RedisURLRedacted() string { return redact(c.RedisURL) }

// ParseDatabaseURL understands sqlite:PATH, mysql://user:pass@host:port/db
// and, for convenience, a go-sql-driver/mysql DSN (user:pass@tcp(host)/db).
func ParseDatabaseURL(s string) (Database, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if path == "" {
			return Database{}, errors.New("want sqlite:PATH, the path is empty")
		}
		return Database{Driver: "sqlite", DSN: path}, nil
	case strings.HasPrefix(s, "mysql://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return Database{}, fmt.Errorf("want mysql://user:pass@host:port/dbname, got %q", redact(s))
		}
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net = "tcp"
		cfg.Addr = u.Host
		if u.Port() == "" {
			cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
		}
		cfg.DBName = strings.Trim(u.Path, "/")
		cfg.Params = map[string]string{}
		for k, v := range u.Query() {
			cfg.Params[k] = v[len(v)-1]
		}
		return Database{Driver: "mysql", DSN: withMySQLDefaults(cfg)}, nil
	case strings.Contains(s, "@tcp(") || strings.Contains(s, "@unix("):
		cfg, err := mysql.ParseDSN(s)
		if err != nil {
			return Database{}, errors.New("not a valid MySQL DSN")
		}
		return Database{Driver: "mysql", DSN: withMySQLDefaults(cfg)}, nil
	}
	return Database{}, fmt.Errorf("want sqlite:PATH or mysql://user:pass@host:port/dbname, got %q", redact(s))
}

// withMySQLDefaults sets what chatty relies on: times as time.Time in UTC
// and utf8mb4 so Korean and emoji round-trip. And the driver's
// interpolateParams: a statement with arguments is one round trip (the
// arguments escaped by the driver, which refuses the multi-byte charsets
// where that is unsafe; utf8mb4 is not one of them), not three packets
// and two round trips (prepare, execute, close) on a server-side prepared
// statement used once.
func withMySQLDefaults(cfg *mysql.Config) string {
	cfg.ParseTime = true
	cfg.InterpolateParams = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	delete(cfg.Params, "parseTime")
	delete(cfg.Params, "loc")
	cfg.Params["charset"] = "utf8mb4"
	return cfg.FormatDSN()
}

// redact hides a password in a URL before it is printed.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// loopback reports whether host (a name or an address, no port) is this
// machine only: localhost or a loopback address. Empty (all interfaces)
// is not.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
