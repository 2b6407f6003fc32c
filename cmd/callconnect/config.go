package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpguard"
	"callconnect/domain"
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

	// MaxCallbackJSONBytes bounds a callback's JSON outside its recordings;
	// MaxCallbackBytesInFlight, the callback bodies read at once.
	MaxCallbackJSONBytes     int64
	MaxCallbackBytesInFlight int64
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies httpguard.TrustedProxies
	// MetricsAddr is where /metrics is served apart from the API; empty:
	// on the API's address.
	MetricsAddr string
	// PprofAddr is where Go's profiler is served; empty: nowhere.
	PprofAddr string
	// AllowedPartnerOrigins are origins (scheme://IP:port) accepted as
	// partner URLs whatever the http and private-address rules say.
	AllowedPartnerOrigins []string
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

// allowedPartnerAddrs are the addresses of AllowedPartnerOrigins, which
// the delivery client may reach even when they are internal.
func (c Config) allowedPartnerAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, o := range c.AllowedPartnerOrigins {
		if ap, ok := domain.AllowedPartnerAddr(o); ok {
			out = append(out, ap)
		}
	}
	return out
}

// setting is one environment variable: LoadConfig reads the configuration
// with this table, `callconnect --help` prints it, and a test holds the
// table of docs/operations.md to it, so the three cannot drift apart.
type setting struct {
	name string
	// def is the value used when the variable is unset or blank; "" has
	// no default (the meaning then says what an empty value does).
	def  string
	help string
	// secret variables may instead name a file holding the value, in
	// name+"_FILE" (a trailing newline is dropped), so that the value
	// need not sit in the process's environment.
	secret bool
	// parse reads the value into c. Its error says what the value must be
	// (LoadConfig prefixes the variable's name); a secret's never repeats it.
	parse func(c *Config, v string) error
}

var settings = []setting{
	{name: "DATABASE_URL", help: "PostgreSQL URL (required; make run starts a local cluster when unset)", secret: true,
		parse: text(func(c *Config) *string { return &c.DatabaseURL })},
	{name: "HTTP_ADDR", def: "127.0.0.1:8080", help: "listen address", parse: func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("must be host:port, got %q", v)
		}
		c.HTTPAddr = v
		return nil
	}},
	{name: "CALLCONNECT_PUBLIC_URL", help: "the URL clients reach the service at (OpenAPI servers, printed links); empty: http:// and HTTP_ADDR",
		parse: func(c *Config, v string) error {
			v = strings.TrimRight(v, "/")
			if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("must be an http(s) URL, got %q", v)
			}
			c.PublicURL = v
			return nil
		}},
	{name: "CALLCONNECT_ADMIN_TOKEN", help: "bearer token of the CRM backend for /v1 and the console's sign-in, or several separated by commas, all accepted (to replace one without downtime: add the new one, move the clients, drop the old); each of at least 32 random bytes, e.g. `head -c 32 /dev/urandom | base64` (required)", secret: true,
		parse: text(func(c *Config) *string { return &c.AdminToken })},
	{name: "CALLCONNECT_SECRETS_KEY", help: "base64 of 32 random bytes; encrypts partner signing secrets at rest (required)", secret: true,
		parse: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			key, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(key) != 32 {
				return errors.New("must be the base64 of exactly 32 bytes (e.g. `head -c32 /dev/urandom | base64`)")
			}
			c.SecretsKey = key
			return nil
		}},
	{name: "CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS", def: "false", help: "let partner URLs point at loopback/private addresses (development and tests only)",
		parse: boolean(func(c *Config) *bool { return &c.AllowPrivatePartners })},
	{name: "CALLCONNECT_ALLOW_HTTP_PARTNER_URLS", def: "false", help: "let partner URLs use plain http (development and tests only)",
		parse: boolean(func(c *Config) *bool { return &c.AllowHTTPPartners })},
	{name: "CALLCONNECT_ALLOWED_PARTNER_URLS", help: "comma-separated http(s) URLs with an IP address for host (e.g. http://127.0.0.1:8091): partner URLs at these origins are accepted over http and at a loopback or private address, and deliveries may reach exactly them (make demo sets its partner-sim's)",
		parse: func(c *Config, v string) error {
			c.AllowedPartnerOrigins = nil
			for _, raw := range strings.Split(v, ",") {
				if raw = strings.TrimSpace(raw); raw == "" {
					continue
				}
				origin, err := domain.ParseAllowedPartnerOrigin(raw)
				if err != nil {
					return fmt.Errorf("%q %v", raw, err)
				}
				c.AllowedPartnerOrigins = append(c.AllowedPartnerOrigins, origin)
			}
			return nil
		}},
	{name: "CALLCONNECT_DISPATCH_DEADLINE", def: "2m", help: "how long after the click a call may still be delivered",
		parse: duration(func(c *Config) *time.Duration { return &c.DispatchDeadline })},
	{name: "CALLCONNECT_RESULT_DEADLINE", def: "2h", help: "how long after the partner accepted a call its result may take before the call is no_result",
		parse: duration(func(c *Config) *time.Duration { return &c.ResultDeadline })},
	{name: "CALLCONNECT_RETRY_MIN_BACKOFF", def: "1s", help: "first retry delay of a delivery",
		parse: duration(func(c *Config) *time.Duration { return &c.RetryMinBackoff })},
	{name: "CALLCONNECT_PARTNER_CONNECT_TIMEOUT", def: "5s", help: "how long connecting to a partner may take",
		parse: duration(func(c *Config) *time.Duration { return &c.PartnerConnect })},
	{name: "CALLCONNECT_PARTNER_TIMEOUT", def: "15s", help: "how long one delivery attempt may take in all",
		parse: duration(func(c *Config) *time.Duration { return &c.PartnerTimeout })},
	{name: "CALLCONNECT_DELIVERY_WORKERS", def: "100", help: "deliveries one process runs at once; 0 makes an API-only replica that delivers nothing",
		parse: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10000 {
				return fmt.Errorf("must be a whole number from 0 to 10000, got %q", v)
			}
			c.DeliveryWorkers = n
			return nil
		}},
	{name: "CALLCONNECT_RECORDINGS_DIR", def: ".data/recordings", help: "where recordings are kept when no S3 bucket is configured",
		parse: text(func(c *Config) *string { return &c.RecordingsDir })},
	{name: "CALLCONNECT_S3_ENDPOINT", help: "S3-compatible endpoint (host:port) for recordings; with CALLCONNECT_S3_BUCKET it replaces the directory",
		parse: text(func(c *Config) *string { return &c.S3.Endpoint })},
	{name: "CALLCONNECT_S3_BUCKET", help: "bucket of the recordings", parse: text(func(c *Config) *string { return &c.S3.Bucket })},
	{name: "CALLCONNECT_S3_ACCESS_KEY", help: "S3 access key", secret: true, parse: text(func(c *Config) *string { return &c.S3.AccessKey })},
	{name: "CALLCONNECT_S3_SECRET_KEY", help: "S3 secret key", secret: true, parse: text(func(c *Config) *string { return &c.S3.SecretKey })},
	{name: "CALLCONNECT_S3_REGION", help: "S3 region (asked of the server when empty)", parse: text(func(c *Config) *string { return &c.S3.Region })},
	{name: "CALLCONNECT_S3_USE_SSL", def: "true", help: "talk https to the S3 endpoint",
		parse: boolean(func(c *Config) *bool { return &c.S3.UseSSL })},
	{name: "CALLCONNECT_S3_PREFIX", help: "prefix of the recordings' object names", parse: text(func(c *Config) *string { return &c.S3.Prefix })},
	{name: "CALLCONNECT_S3_SPOOL_DIR", help: "local directory recordings wait in until uploaded to S3, its old leftovers swept hourly (empty: callconnect-spool in $TMPDIR, else /tmp)",
		parse: text(func(c *Config) *string { return &c.S3.SpoolDir })},
	{name: "CALLCONNECT_MAX_AUDIO_BYTES", def: "52428800", help: "largest decoded recording a partner may send (50 MiB)",
		parse: byteSize(func(c *Config) *int64 { return &c.MaxAudioBytes }, 1024, 1<<30)},
	{name: "CALLCONNECT_MAX_CALLBACK_BYTES", def: "75497472", help: "largest partner callback body (72 MiB: a 50 MiB recording in base64, and JSON)",
		parse: byteSize(func(c *Config) *int64 { return &c.MaxCallbackBytes }, 1024, 2<<30)},
	{name: "CALLCONNECT_MAX_CALLBACK_JSON_BYTES", def: "1048576", help: "largest JSON of a partner callback outside its recordings (the part held in memory; the recordings stream to disk): 413 beyond it",
		parse: byteSize(func(c *Config) *int64 { return &c.MaxCallbackJSONBytes }, 1024, 1<<30)},
	{name: "CALLCONNECT_MAX_CALLBACK_BYTES_IN_FLIGHT", def: "1073741824", help: "callback bodies one process reads at once, in bytes of their Content-Length (at least CALLCONNECT_MAX_CALLBACK_BYTES); a callback past it gets 503 with Retry-After before its body is read",
		parse: byteSize(func(c *Config) *int64 { return &c.MaxCallbackBytesInFlight }, 1024, 1<<40)},
	{name: "CALLCONNECT_TRUSTED_PROXIES", help: "comma-separated CIDRs (or addresses) of the load balancers in front; from them X-Forwarded-For (else Forwarded) names the client, whose address the failed-authentication limits count by, and X-Forwarded-Proto: https makes the console's cookies Secure (empty: none trusted, each client is its connection's address)",
		parse: func(c *Config, v string) error {
			p, err := httpguard.ParseTrustedProxies(v)
			if err != nil {
				return err
			}
			c.TrustedProxies = p
			return nil
		}},
	{name: "CALLCONNECT_PARTNER_RATE_LIMIT", def: "600", help: "partner callbacks per minute per token (and failed partner authentications per minute per client address)",
		parse: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1_000_000 {
				return fmt.Errorf("must be a whole number of requests per minute from 1 to 1000000, got %q", v)
			}
			c.PartnerRateLimit = n
			return nil
		}},
	{name: "CALLCONNECT_MAX_BODY_BYTES", def: "1048576", help: "largest accepted request body on /v1",
		parse: byteSize(func(c *Config) *int64 { return &c.MaxBodyBytes }, 1024, 1<<30)},
	{name: "CALLCONNECT_SHUTDOWN_DRAIN", def: "5s", help: "on SIGTERM, how long /readyz answers 503 while requests are still accepted and served, before the listener closes; 0s closes it at once",
		parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > 10*time.Minute {
				return fmt.Errorf("must be a Go duration from 0s to 10m such as 5s, got %q", v)
			}
			c.ShutdownDrain = d
			return nil
		}},
	{name: "CALLCONNECT_SHUTDOWN_TIMEOUT", def: "30s", help: "how long a stopping service then waits for in-flight work",
		parse: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{name: "CALLCONNECT_MONITOR_RETENTION", def: "720h", help: "how long the integration monitor keeps exchanges (whole UTC days; at least 24h)",
		parse: func(c *Config, v string) error {
			if err := duration(func(c *Config) *time.Duration { return &c.MonitorRetention })(c, v); err != nil {
				return err
			}
			if c.MonitorRetention < 24*time.Hour {
				return fmt.Errorf("must be at least 24h (exchanges are kept and dropped by whole days), got %q", v)
			}
			return nil
		}},
	{name: "CALLCONNECT_METRICS_ADDR", help: "serve /metrics on this host:port of its own, and not on HTTP_ADDR (empty: on HTTP_ADDR, with the API)",
		parse: func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("must be host:port, got %q", v)
				}
			}
			c.MetricsAddr = v
			return nil
		}},
	{name: "CALLCONNECT_PPROF_ADDR", help: "serve Go's profiler (/debug/pprof/) on this host:port, to see where a process spends its time; keep it on loopback (empty: not served)",
		parse: func(c *Config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("must be host:port, got %q", v)
				}
			}
			c.PprofAddr = v
			return nil
		}},
	{name: "LOG_LEVEL", def: "info", help: "debug, info, warn or error", parse: func(c *Config, v string) error {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("must be debug, info, warn or error, got %q", v)
		}
		return nil
	}},
}

// The parsers most settings share.

func text(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", v)
		}
		*field(c) = b
		return nil
	}
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("must be a positive Go duration such as 2m or 500ms, got %q", v)
		}
		*field(c) = d
		return nil
	}
}

func byteSize(field func(*Config) *int64, lo, hi int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number of bytes from %d to %d, got %q", lo, hi, v)
		}
		*field(c) = n
		return nil
	}
}

// value is a setting's value: the variable, else for a secret the content
// of the file its _FILE variable names, else the default.
func (s setting) value(getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv(s.name))
	if s.secret {
		if path := strings.TrimSpace(getenv(s.name + "_FILE")); path != "" {
			if v != "" {
				return "", fmt.Errorf("set %s or %s_FILE, not both", s.name, s.name)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: cannot read the file: %w", s.name, err)
			}
			v = strings.TrimSpace(string(b))
			if v == "" {
				return "", fmt.Errorf("%s_FILE: %s is empty", s.name, path)
			}
		}
	}
	if v == "" {
		v = s.def
	}
	return v, nil
}

// LoadConfig reads the configuration through getenv. Every bad value is
// reported, each naming its variable, so one run shows every mistake.
func LoadConfig(getenv func(string) string) (Config, error) {
	c, errs := readSettings(getenv)
	c.fillDerived()
	errs = append(errs, c.checkCombinations()...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// readSettings reads each variable of the settings table on its own: an
// error for each bad value, naming its variable.
func readSettings(getenv func(string) string) (Config, []error) {
	var c Config
	var errs []error
	for _, s := range settings {
		v, err := s.value(getenv)
		if err == nil {
			err = s.parse(&c, v)
		}
		if err != nil {
			errs = append(errs, badSetting(s.name, "%v", err))
		}
	}
	return c, errs
}

// fillDerived gives the settings whose default depends on another theirs.
func (c *Config) fillDerived() {
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
}

// checkCombinations reports the values that are good alone but not with
// another's: each error names the variable to change. A bound that is zero
// (its own value was bad, and reported) is not checked against.
func (c Config) checkCombinations() []error {
	var errs []error
	bad := func(name, format string, args ...any) { errs = append(errs, badSetting(name, format, args...)) }
	if c.PartnerConnect > c.PartnerTimeout && c.PartnerTimeout > 0 {
		bad("CALLCONNECT_PARTNER_CONNECT_TIMEOUT", "must not exceed CALLCONNECT_PARTNER_TIMEOUT (%s)", c.PartnerTimeout)
	}
	if c.MaxCallbackBytes < c.MaxAudioBytes*4/3 && c.MaxCallbackBytes > 0 {
		bad("CALLCONNECT_MAX_CALLBACK_BYTES", "must hold a recording of CALLCONNECT_MAX_AUDIO_BYTES in base64 (at least %d)", c.MaxAudioBytes*4/3)
	}
	if c.MaxCallbackBytesInFlight < c.MaxCallbackBytes && c.MaxCallbackBytesInFlight > 0 {
		bad("CALLCONNECT_MAX_CALLBACK_BYTES_IN_FLIGHT", "must hold one callback of CALLCONNECT_MAX_CALLBACK_BYTES (at least %d)", c.MaxCallbackBytes)
	}
	if c.MaxCallbackJSONBytes > c.MaxCallbackBytes && c.MaxCallbackBytes > 0 {
		bad("CALLCONNECT_MAX_CALLBACK_JSON_BYTES", "must not exceed CALLCONNECT_MAX_CALLBACK_BYTES (%d)", c.MaxCallbackBytes)
	}
	if (c.S3.Endpoint == "") != (c.S3.Bucket == "") {
		bad("CALLCONNECT_S3_BUCKET", "CALLCONNECT_S3_ENDPOINT and CALLCONNECT_S3_BUCKET go together: set both or neither")
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr {
		bad("CALLCONNECT_METRICS_ADDR", "must differ from HTTP_ADDR (leave it empty to serve /metrics with the API)")
	}
	if c.PprofAddr != "" && (c.PprofAddr == c.HTTPAddr || c.PprofAddr == c.MetricsAddr) {
		bad("CALLCONNECT_PPROF_ADDR", "must differ from HTTP_ADDR and CALLCONNECT_METRICS_ADDR")
	}
	if c.RetryMinBackoff > c.DispatchDeadline && c.DispatchDeadline > 0 {
		bad("CALLCONNECT_RETRY_MIN_BACKOFF", "must not exceed CALLCONNECT_DISPATCH_DEADLINE (%s)", c.DispatchDeadline)
	}
	return errs
}

// badSetting is the error of a bad value of the variable name.
func badSetting(name, format string, args ...any) error {
	return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
}

// RequireServe checks what serving needs beyond LoadConfig: a database, an
// admin token and the secrets key. migrate and openapi do not need all of them.
func (c Config) RequireServe() error {
	var errs []error
	if err := c.RequireDatabase(); err != nil {
		errs = append(errs, err)
	}
	if err := checkAdminTokens(c.AdminToken); err != nil {
		errs = append(errs, err)
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

// writeSettings prints the settings table for --help: each variable, its
// default, and what it means.
func writeSettings(w io.Writer) {
	fmt.Fprintln(w, "Configuration, from environment variables:")
	for _, s := range settings {
		def := "no default"
		if s.def != "" {
			def = "default " + s.def
		}
		fmt.Fprintf(w, "  %s (%s)\n      %s\n", s.name, def, s.help)
		if s.secret {
			fmt.Fprintf(w, "      or %s_FILE: a file holding it (not both)\n", s.name)
		}
	}
	fmt.Fprintf(w, "  GOGC (default %d when serving)\n      the Go garbage collector's target; a value given is Go's own (100, off, ...)\n", defaultGCPercent)
	fmt.Fprintln(w, "  OTEL_* (no default: no export)\n      the standard OpenTelemetry variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_SERVICE_NAME, ...)")
}

// settingDefault is the default of the named setting, "" when it has none.
func settingDefault(name string) string {
	for _, s := range settings {
		if s.name == name {
			return s.def
		}
	}
	return ""
}
