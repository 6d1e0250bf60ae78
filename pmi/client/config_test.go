package client_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi/client"
)

func TestConfigFromEnv(t *testing.T) {
	sock := func(t *testing.T) string { // a socket fd this test owns
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fds[1]) })
		return strconv.Itoa(fds[0]) // ConfigFromEnv takes it over
	}
	file := func(t *testing.T) string { // an fd that is not a socket
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fd) })
		return strconv.Itoa(fd)
	}
	tests := []struct {
		name    string
		env     func(t *testing.T) []string
		want    client.Config // Conn is checked for presence only
		wantErr bool
	}{
		{"fd", func(t *testing.T) []string {
			return []string{"PMI_FD=" + sock(t), "PMI_RANK=2", "PMI_SIZE=4", "PMI_JOBID=42.0", "PMI_SPAWNED=1"}
		}, client.Config{Rank: 2, Size: 4, JobID: "42.0", Spawned: true}, false},
		{"fd wins over port", func(t *testing.T) []string {
			return []string{"PMI_PORT=h:1", "PMI_ID=1", "PMI_FD=" + sock(t), "PMI_RANK=0", "PMI_SIZE=1"}
		}, client.Config{ID: 1, Rank: 0, Size: 1}, false},
		{"port", func(*testing.T) []string { return []string{"PMI_PORT=h:1", "PMI_ID=3"} },
			client.Config{Addr: "h:1", ID: 3, Rank: -1, Size: -1}, false},
		{"port without id", func(*testing.T) []string { return []string{"PMI_PORT=h:1"} }, client.Config{}, true},
		{"fd not a socket", func(t *testing.T) []string { return []string{"PMI_FD=" + file(t)} }, client.Config{}, true},
		{"fd garbage", func(*testing.T) []string { return []string{"PMI_FD=x"} }, client.Config{}, true},
		{"bad rank", func(*testing.T) []string { return []string{"PMI_PORT=h:1", "PMI_ID=0", "PMI_RANK=one"} }, client.Config{}, true},
		{"nothing", func(*testing.T) []string { return nil }, client.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.ConfigFromEnv(tt.env(t))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ConfigFromEnv error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			hasConn := got.Conn != nil
			if hasConn {
				got.Conn.Close()
				got.Conn = nil
			}
			if got != tt.want || hasConn != (tt.want.Addr == "") {
				t.Fatalf("ConfigFromEnv = %+v (conn %v), want %+v", got, hasConn, tt.want)
			}
		})
	}
}
