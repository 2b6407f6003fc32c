package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"callconnect/adapters/audiostore"
)

// Config is everything the service reads from its environment.
type Config struct {
	DatabaseURL          string
	HTTPAddr             string
	PublicURL            string
	AdminToken           string
	AllowPrivatePartners bool
	AllowHTTPPartners    bool
	SecretsKey           []byte
	DispatchDeadline     time.Duration
	ResultDeadline       time.Duration
	RetryMinBackoff      time.Duration
	PartnerConnect       time.Duration
	PartnerTimeout       time.Duration
	DeliveryWorkers      int
	RecordingsDir        string
	MaxAudioBytes        int64
	MaxCallbackBytes     int64
	PartnerRateLimit     int
	S3                   S3Settings
	MaxBodyBytes         int64
	ShutdownTimeout      time.Duration
	MonitorRetention     time.Duration
	ShutdownDrain        time.Duration
	LogLevel             slog.Level
}

// S3Settings name the S3-compatible bucket recordings go to; without an
// endpoint and bucket, recordings stay on the filesystem.
type S3Settings struct {
	Endpoint, Bucket, AccessKey, SecretKey, Region, Prefix string
	UseSSL                                                 bool
	// SpoolDir keeps recordings while they arrive, before their upload;
	// empty: audiostore.DefaultS3SpoolDir.
	SpoolDir string
}

// AudioStore is the audio store's configuration: the recordings directory,
// or the S3 bucket when one is configured.
func (c Config) AudioStore() audiostore.Config {
	return audiostore.Config{Dir: c.RecordingsDir, S3: audiostore.S3Config{Endpoint: c.S3.Endpoint, Bucket: c.S3.Bucket,
		AccessKey: c.S3.AccessKey, SecretKey: c.S3.SecretKey, Region: c.S3.Region, UseSSL: c.S3.UseSSL, Prefix: c.S3.Prefix,
		SpoolDir: c.S3.SpoolDir}}
}

// setting documents one environment variable; the README's table mirrors this list.
type setting struct {
	name, def, help string
}

var settings = []setting{
	{"DATABASE_URL", "", "PostgreSQL URL (required; make run starts a local cluster when unset)"},
	{"HTTP_ADDR", "127.0.0.1:8080", "listen address"},
	{"CALLCONNECT_PUBLIC_URL", "http://HTTP_ADDR", "the URL clients reach the service at (OpenAPI servers, printed links)"},
	{"CALLCONNECT_ADMIN_TOKEN", "", "bearer token of the CRM backend for /v1 (required, at least 16 characters)"},
	{"CALLCONNECT_SECRETS_KEY", "", "base64 of 32 random bytes; encrypts partner signing secrets at rest (required)"},
	{"CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS", "false", "let partner URLs point at loopback/private addresses (development and tests only)"},
	{"CALLCONNECT_ALLOW_HTTP_PARTNER_URLS", "false", "let partner URLs use plain http (development and tests only)"},
	{"CALLCONNECT_DISPATCH_DEADLINE", "2m", "how long after the click a call may still be delivered"},
	{"CALLCONNECT_RESULT_DEADLINE", "2h", "how long after the partner accepted a call its result may take before the call is no_result"},
	{"CALLCONNECT_RETRY_MIN_BACKOFF", "1s", "first retry delay of a delivery"},
	{"CALLCONNECT_PARTNER_CONNECT_TIMEOUT", "5s", "how long connecting to a partner may take"},
	{"CALLCONNECT_PARTNER_TIMEOUT", "15s", "how long one delivery attempt may take in all"},
	{"CALLCONNECT_DELIVERY_WORKERS", "100", "deliveries one process runs at once; 0 makes an API-only replica that delivers nothing"},
	{"CALLCONNECT_RECORDINGS_DIR", ".data/recordings", "where recordings are kept when no S3 bucket is configured"},
	{"CALLCONNECT_S3_ENDPOINT", "", "S3-compatible endpoint (host:port) for recordings; with CALLCONNECT_S3_BUCKET it replaces the directory"},
	{"CALLCONNECT_S3_BUCKET", "", "bucket of the recordings"},
	{"CALLCONNECT_S3_ACCESS_KEY", "", "S3 access key"},
	{"CALLCONNECT_S3_SECRET_KEY", "", "S3 secret key"},
	{"CALLCONNECT_S3_REGION", "", "S3 region (asked of the server when empty)"},
	{"CALLCONNECT_S3_USE_SSL", "true", "talk https to the S3 endpoint"},
	{"CALLCONNECT_S3_PREFIX", "", "prefix of the recordings' object names"},
	{"CALLCONNECT_S3_SPOOL_DIR", "", "local directory recordings wait in until uploaded to S3, its old leftovers swept hourly (empty: callconnect-spool in $TMPDIR, else /tmp)"},
	{"CALLCONNECT_MAX_AUDIO_BYTES", "52428800", "largest decoded recording a partner may send (50 MiB)"},
	{"CALLCONNECT_MAX_CALLBACK_BYTES", "75497472", "largest partner callback body (72 MiB: a 50 MiB recording in base64, and JSON)"},
	{"CALLCONNECT_PARTNER_RATE_LIMIT", "600", "partner callbacks per minute per token (and per address before authentication)"},
	{"CALLCONNECT_MAX_BODY_BYTES", "1048576", "largest accepted request body on /v1"},
	{"CALLCONNECT_SHUTDOWN_DRAIN", "5s", "on SIGTERM, how long /readyz answers 503 while requests are still accepted and served, before the listener closes; 0s closes it at once"},
	{"CALLCONNECT_SHUTDOWN_TIMEOUT", "30s", "how long a stopping service then waits for in-flight work"},
	{"CALLCONNECT_MONITOR_RETENTION", "720h", "how long the integration monitor keeps exchanges (whole UTC days; at least 24h)"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
}

// LoadConfig reads the configuration through getenv. Every bad value is
// reported, each naming its variable, so one run shows every mistake.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, s := range settings {
			if s.name == name {
				return s.def
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	c := Config{DatabaseURL: get("DATABASE_URL"), HTTPAddr: get("HTTP_ADDR"), AdminToken: get("CALLCONNECT_ADMIN_TOKEN")}

	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR", "must be host:port, got %q", c.HTTPAddr)
	}
	c.PublicURL = strings.TrimRight(getenv("CALLCONNECT_PUBLIC_URL"), "/")
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	} else if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		bad("CALLCONNECT_PUBLIC_URL", "must be an http(s) URL, got %q", c.PublicURL)
	}
	boolean := func(name string) bool {
		v, err := strconv.ParseBool(get(name))
		if err != nil {
			bad(name, "must be true or false, got %q", get(name))
		}
		return v
	}
	c.AllowPrivatePartners = boolean("CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS")
	c.AllowHTTPPartners = boolean("CALLCONNECT_ALLOW_HTTP_PARTNER_URLS")
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "must be a positive Go duration such as 2m or 500ms, got %q", get(name))
		}
		return d
	}
	c.DispatchDeadline = duration("CALLCONNECT_DISPATCH_DEADLINE")
	c.ResultDeadline = duration("CALLCONNECT_RESULT_DEADLINE")
	c.RetryMinBackoff = duration("CALLCONNECT_RETRY_MIN_BACKOFF")
	c.ShutdownTimeout = duration("CALLCONNECT_SHUTDOWN_TIMEOUT")
	if d, err := time.ParseDuration(get("CALLCONNECT_SHUTDOWN_DRAIN")); err != nil || d < 0 || d > 10*time.Minute {
		bad("CALLCONNECT_SHUTDOWN_DRAIN", "must be a Go duration from 0s to 10m such as 5s, got %q", get("CALLCONNECT_SHUTDOWN_DRAIN"))
	} else {
		c.ShutdownDrain = d
	}
	c.PartnerConnect = duration("CALLCONNECT_PARTNER_CONNECT_TIMEOUT")
	c.PartnerTimeout = duration("CALLCONNECT_PARTNER_TIMEOUT")
	c.MonitorRetention = duration("CALLCONNECT_MONITOR_RETENTION")
	if c.MonitorRetention > 0 && c.MonitorRetention < 24*time.Hour {
		bad("CALLCONNECT_MONITOR_RETENTION", "must be at least 24h (exchanges are kept and dropped by whole days), got %q", get("CALLCONNECT_MONITOR_RETENTION"))
	}
	if c.PartnerConnect > c.PartnerTimeout && c.PartnerTimeout > 0 {
		bad("CALLCONNECT_PARTNER_CONNECT_TIMEOUT", "must not exceed CALLCONNECT_PARTNER_TIMEOUT (%s)", c.PartnerTimeout)
	}
	workers, err := strconv.Atoi(get("CALLCONNECT_DELIVERY_WORKERS"))
	if err != nil || workers < 0 || workers > 10000 {
		bad("CALLCONNECT_DELIVERY_WORKERS", "must be a whole number from 0 to 10000, got %q", get("CALLCONNECT_DELIVERY_WORKERS"))
	}
	c.DeliveryWorkers = workers
	c.RecordingsDir = get("CALLCONNECT_RECORDINGS_DIR")
	size := func(name string, lo, hi int64) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil || n < lo || n > hi {
			bad(name, "must be a whole number of bytes from %d to %d, got %q", lo, hi, get(name))
		}
		return n
	}
	c.MaxAudioBytes = size("CALLCONNECT_MAX_AUDIO_BYTES", 1024, 1<<30)
	c.MaxCallbackBytes = size("CALLCONNECT_MAX_CALLBACK_BYTES", 1024, 2<<30)
	if c.MaxCallbackBytes < c.MaxAudioBytes*4/3 && c.MaxCallbackBytes > 0 {
		bad("CALLCONNECT_MAX_CALLBACK_BYTES", "must hold a recording of CALLCONNECT_MAX_AUDIO_BYTES in base64 (at least %d)", c.MaxAudioBytes*4/3)
	}
	rate, err := strconv.Atoi(get("CALLCONNECT_PARTNER_RATE_LIMIT"))
	if err != nil || rate < 1 || rate > 1_000_000 {
		bad("CALLCONNECT_PARTNER_RATE_LIMIT", "must be a whole number of requests per minute from 1 to 1000000, got %q", get("CALLCONNECT_PARTNER_RATE_LIMIT"))
	}
	c.PartnerRateLimit = rate
	c.S3 = S3Settings{Endpoint: get("CALLCONNECT_S3_ENDPOINT"), Bucket: get("CALLCONNECT_S3_BUCKET"),
		AccessKey: get("CALLCONNECT_S3_ACCESS_KEY"), SecretKey: get("CALLCONNECT_S3_SECRET_KEY"),
		Region: get("CALLCONNECT_S3_REGION"), Prefix: get("CALLCONNECT_S3_PREFIX"), UseSSL: boolean("CALLCONNECT_S3_USE_SSL"),
		SpoolDir: get("CALLCONNECT_S3_SPOOL_DIR")}
	if (c.S3.Endpoint == "") != (c.S3.Bucket == "") {
		bad("CALLCONNECT_S3_BUCKET", "CALLCONNECT_S3_ENDPOINT and CALLCONNECT_S3_BUCKET go together: set both or neither")
	}
	if c.RetryMinBackoff > c.DispatchDeadline && c.DispatchDeadline > 0 {
		bad("CALLCONNECT_RETRY_MIN_BACKOFF", "must not exceed CALLCONNECT_DISPATCH_DEADLINE (%s)", c.DispatchDeadline)
	}
	n, err := strconv.ParseInt(get("CALLCONNECT_MAX_BODY_BYTES"), 10, 64)
	if err != nil || n < 1024 || n > 1<<30 {
		bad("CALLCONNECT_MAX_BODY_BYTES", "must be a whole number of bytes between 1024 and 1073741824, got %q", get("CALLCONNECT_MAX_BODY_BYTES"))
	}
	c.MaxBodyBytes = n
	if raw := strings.TrimSpace(getenv("CALLCONNECT_SECRETS_KEY")); raw != "" {
		key, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(key) != 32 {
			bad("CALLCONNECT_SECRETS_KEY", "must be the base64 of exactly 32 bytes (e.g. `head -c32 /dev/urandom | base64`)")
		}
		c.SecretsKey = key
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", get("LOG_LEVEL"))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// RequireServe checks what serving needs beyond LoadConfig: a database, an
// admin token and the secrets key. migrate and openapi do not need all of them.
func (c Config) RequireServe() error {
	var errs []error
	if err := c.RequireDatabase(); err != nil {
		errs = append(errs, err)
	}
	if len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("CALLCONNECT_ADMIN_TOKEN: is required and must have at least 16 characters (make run generates one in .data/admin-token)"))
	}
	if len(c.SecretsKey) != 32 {
		errs = append(errs, errors.New("CALLCONNECT_SECRETS_KEY: is required: the base64 of 32 random bytes (e.g. `head -c32 /dev/urandom | base64`; make run generates one in .data/secrets.key)"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// RequireDatabase checks that DATABASE_URL is set.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL: is required (make run starts a project-local PostgreSQL and sets it)")
	}
	return nil
}
