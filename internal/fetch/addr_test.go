package fetch

import (
	"net/netip"
	"testing"
	"time"
)

func TestIsPublic(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2a00:1450:4010:c05::8a", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.32.0.1", true},
		{"::ffff:93.184.216.34", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8

		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"::1", false},
		{"10.0.0.5", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"ff05::2", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"192.0.0.8", false},
		{"2001:db8::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},    // IPv4-compatible
		{"64:ff9b::a00:5", false}, // NAT64 of 10.0.0.5
		{"64:ff9b:1::1", false},   // local-use NAT64
		{"2002:a00:5::1", false},  // 6to4 of 10.0.0.5
		{"2002:7f00:1::1", false}, // 6to4 of 127.0.0.1
		{"fec0::1", false},
		{"100::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a, err := netip.ParseAddr(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := isPublic(a); got != tt.want {
				t.Errorf("isPublic(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	if isPublic(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestDialControl(t *testing.T) {
	tests := []struct {
		address string
		want    bool // allowed
	}{
		{"93.184.216.34:443", true},
		{"[2a00:1450:4010:c05::8a]:443", true},
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"[fe80::1%25eth0]:80", false},
		{"not an address", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := dialControl("tcp", tt.address, nil)
			if (err == nil) != tt.want {
				t.Errorf("dialControl(%s) = %v", tt.address, err)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url          string
		allowPrivate bool
		wantErr      bool
		wantKind     Kind
		wantMsg      string // "" = any message
	}{
		{"https://93.184.216.34/feed", false, false, 0, ""},
		{"http://[2a00:1450:4010:c05::8a]/rss", false, false, 0, ""},
		{"http://10.0.0.5/feed", false, true, KindPrivateAddress, "address 10.0.0.5 is private; set FETCH_ALLOW_PRIVATE=true to allow it"},
		{"http://[::1]:8080/", false, true, KindPrivateAddress, "address ::1 is private; set FETCH_ALLOW_PRIVATE=true to allow it"},
		{"http://169.254.169.254/latest/meta-data/", false, true, KindPrivateAddress, "address 169.254.169.254 is private; set FETCH_ALLOW_PRIVATE=true to allow it"},
		{"http://localhost:8080/", false, true, KindPrivateAddress, ""},
		{"http://10.0.0.5/feed", true, false, 0, ""},
		{"http://localhost/", true, false, 0, ""},
		{"ftp://example.com/", false, true, KindBadURL, `bad URL: scheme "ftp" is not supported, only http and https`},
		{"example.com/rss", false, true, KindBadURL, `bad URL: "example.com/rss" is not an absolute http(s) URL`},
		{"http:///path", false, true, KindBadURL, `bad URL: "http:///path" has no host`},
		{"http://%zz/", false, true, KindBadURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := New(Options{AllowPrivate: tt.allowPrivate}).CheckURL(t.Context(), tt.url)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckURL: %v", err)
				}
				return
			}
			fe := fetchError(t, err, tt.wantKind)
			if tt.wantMsg != "" && fe.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", fe.Error(), tt.wantMsg)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"30", 30 * time.Second},
		{" 3600 ", time.Hour},
		{"Sun, 01 Mar 2026 12:10:00 GMT", 10 * time.Minute},
		{"Sunday, 01-Mar-26 12:10:00 GMT", 10 * time.Minute}, // RFC 850
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},                 // in the past
		{"tomorrow", 0},
		{"99999999999999999999", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
