package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordingsDir != ".data/recordings" || c.MaxAudioBytes != 50<<20 || c.PartnerRateLimit != 600 || c.DeliveryWorkers != 100 ||
		c.PartnerTimeout != 15*time.Second || c.PartnerConnect != 5*time.Second || c.S3.Endpoint != "" || !c.S3.UseSSL ||
		c.MonitorRetention != 30*24*time.Hour {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.DispatchDeadline != 2*time.Minute || c.RetryMinBackoff != time.Second ||
		c.MaxBodyBytes != 1<<20 || c.AllowPrivatePartners || c.AllowHTTPPartners || c.PublicURL != "http://127.0.0.1:8080" ||
		c.ShutdownDrain != 5*time.Second || c.ShutdownTimeout != 30*time.Second || c.ResultDeadline != 2*time.Hour {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if err := c.RequireServe(); err == nil {
		t.Fatal("serving without database, token and key must be refused")
	} else {
		for _, name := range []string{"DATABASE_URL", "CALLCONNECT_ADMIN_TOKEN", "CALLCONNECT_SECRETS_KEY"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name %s", err, name)
			}
		}
	}
}

func TestLoadConfigReportsEveryBadValue(t *testing.T) {
	_, err := LoadConfig(envOf(map[string]string{
		"HTTP_ADDR":                              "8080",
		"CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS": "yes please",
		"CALLCONNECT_DISPATCH_DEADLINE":          "2 minutes",
		"CALLCONNECT_RETRY_MIN_BACKOFF":          "-1s",
		"CALLCONNECT_MAX_BODY_BYTES":             "12",
		"CALLCONNECT_SECRETS_KEY":                "c2hvcnQ=",
		"LOG_LEVEL":                              "loud",
		"CALLCONNECT_PUBLIC_URL":                 "ftp://x",
		"CALLCONNECT_PARTNER_TIMEOUT":            "soon",
		"CALLCONNECT_DELIVERY_WORKERS":           "-1",
		"CALLCONNECT_PARTNER_RATE_LIMIT":         "0",
		"CALLCONNECT_S3_ENDPOINT":                "s3.example.com",
		"CALLCONNECT_MAX_AUDIO_BYTES":            "lots",
		"CALLCONNECT_MONITOR_RETENTION":          "12h",
		"CALLCONNECT_SHUTDOWN_DRAIN":             "-1s",
		"CALLCONNECT_RESULT_DEADLINE":            "0s",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, name := range []string{"HTTP_ADDR", "CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS", "CALLCONNECT_DISPATCH_DEADLINE",
		"CALLCONNECT_RETRY_MIN_BACKOFF", "CALLCONNECT_MAX_BODY_BYTES", "CALLCONNECT_SECRETS_KEY", "LOG_LEVEL", "CALLCONNECT_PUBLIC_URL",
		"CALLCONNECT_PARTNER_TIMEOUT", "CALLCONNECT_DELIVERY_WORKERS", "CALLCONNECT_PARTNER_RATE_LIMIT", "CALLCONNECT_S3_BUCKET",
		"CALLCONNECT_MAX_AUDIO_BYTES", "CALLCONNECT_MONITOR_RETENTION", "CALLCONNECT_SHUTDOWN_DRAIN", "CALLCONNECT_RESULT_DEADLINE"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%s", name, err)
		}
	}
}

func TestLoadConfigServeReady(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{
		"DATABASE_URL":                        "postgres://x@127.0.0.1/db",
		"CALLCONNECT_ADMIN_TOKEN":             "Zk3v9QpL2xR7mT1wY8nB4cF6hJ0sD5gA3eU9iO2kXq8",
		"CALLCONNECT_SECRETS_KEY":             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"CALLCONNECT_ALLOW_HTTP_PARTNER_URLS": "true",
		"CALLCONNECT_DISPATCH_DEADLINE":       "30s",
		"CALLCONNECT_SHUTDOWN_DRAIN":          "0s",
		"LOG_LEVEL":                           "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequireServe(); err != nil {
		t.Fatal(err)
	}
	if !c.AllowHTTPPartners || c.DispatchDeadline != 30*time.Second || len(c.SecretsKey) != 32 || c.ShutdownDrain != 0 {
		t.Fatalf("values not read: %+v", c)
	}
}

func TestShortAdminTokenRefused(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{"DATABASE_URL": "postgres://x", "CALLCONNECT_ADMIN_TOKEN": "short",
		"CALLCONNECT_SECRETS_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequireServe(); err == nil || !strings.Contains(err.Error(), "CALLCONNECT_ADMIN_TOKEN") {
		t.Fatalf("short admin token: %v", err)
	}
}

// CALLCONNECT_RESULT_DEADLINE is a positive Go duration; anything else
// stops the start with a message naming it.
func TestResultDeadlineSetting(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration // 0: refused
	}{
		{"", 2 * time.Hour},
		{"90m", 90 * time.Minute},
		{" 24h ", 24 * time.Hour},
		{"1s", time.Second},
		{"0s", 0},
		{"-2h", 0},
		{"2 hours", 0},
		{"7200", 0},
	} {
		c, err := LoadConfig(envOf(map[string]string{"CALLCONNECT_RESULT_DEADLINE": tc.value}))
		switch {
		case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), "CALLCONNECT_RESULT_DEADLINE: must be a positive Go duration")):
			t.Errorf("%q: got %v, want it refused naming CALLCONNECT_RESULT_DEADLINE", tc.value, err)
		case tc.want != 0 && err != nil:
			t.Errorf("%q: %v", tc.value, err)
		case tc.want != 0 && c.ResultDeadline != tc.want:
			t.Errorf("%q: ResultDeadline %s, want %s", tc.value, c.ResultDeadline, tc.want)
		}
	}
}

// The operators' configuration table names every variable the service reads.
func TestDocumentedSettings(t *testing.T) {
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(string(doc), "`"+s.name+"`") {
			t.Errorf("docs/operations.md does not document %s", s.name)
		}
	}
}

// The S3 settings reach the audio store, its spool directory included.
func TestS3SettingsReachTheAudioStore(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{"CALLCONNECT_S3_ENDPOINT": "s3.example.com", "CALLCONNECT_S3_BUCKET": "recordings",
		"CALLCONNECT_S3_PREFIX": "cc", "CALLCONNECT_S3_SPOOL_DIR": "/var/spool/callconnect"}))
	if err != nil {
		t.Fatal(err)
	}
	a := c.AudioStore()
	if !a.UsesS3() || a.S3.Endpoint != "s3.example.com" || a.S3.Bucket != "recordings" || a.S3.Prefix != "cc" ||
		a.S3.SpoolDir != "/var/spool/callconnect" || !a.S3.UseSSL {
		t.Fatalf("audio store configuration %+v", a)
	}
	if d, _ := LoadConfig(envOf(nil)); d.AudioStore().S3.SpoolDir != "" || d.AudioStore().Dir != ".data/recordings" {
		t.Fatalf("default audio store configuration %+v", d.AudioStore())
	}
}
