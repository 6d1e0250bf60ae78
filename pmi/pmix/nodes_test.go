package pmix

import (
	"slices"
	"strings"
	"testing"

	"github.com/mpiwrap/mpiwrap/pmi"
)

func TestNodeIDs(t *testing.T) {
	tests := []struct {
		name    string
		perRank map[int]map[string]string
		peers   string
		want    []int
		wantErr string
	}{
		{"nodeid dense", nodeKeys(KeyNodeID, "0", "0", "1", "1"), "", []int{0, 0, 1, 1}, ""},
		{"nodeid sparse renumbered", nodeKeys(KeyNodeID, "9", "4", "9", "4"), "", []int{0, 1, 0, 1}, ""},
		{"hostname", nodeKeys(KeyHostname, "n2", "n2", "n1", "n3"), "", []int{0, 0, 1, 2}, ""},
		{"nodeid incomplete, hostname", map[int]map[string]string{
			0: {KeyNodeID: "0", KeyHostname: "a"}, 1: {KeyHostname: "a"}, 2: {KeyHostname: "b"}, 3: {KeyHostname: "b"}},
			"", []int{0, 0, 1, 1}, ""},
		{"local peers all", nil, "0,1,2,3", []int{0, 0, 0, 0}, ""},
		{"local peers some", nil, "0,1", nil, "not every rank is local"},
		{"nothing", nil, "", nil, "pmix.lpeers: not provided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newFakeJob(4)
			for r, kv := range tt.perRank {
				job.perRank[r] = kv
			}
			setIf(job.job, KeyLocalPeers, tt.peers)
			got, err := nodeIDs(job.client(0), 4)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("nodeIDs = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("nodeIDs = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestJobInfo(t *testing.T) {
	tests := []struct {
		name    string
		job     map[string]string
		mine    map[string]string
		want    pmi.Info
		wantErr string
	}{
		{"appnum of rank", map[string]string{KeyJobSize: "2", KeyAppNum: "1"}, map[string]string{KeyAppNum: "3"},
			pmi.Info{Rank: 1, Size: 2, AppNum: 3, KVSName: "fake.ns"}, ""},
		{"appnum of job", map[string]string{KeyJobSize: "2", KeyAppNum: "1"}, nil,
			pmi.Info{Rank: 1, Size: 2, AppNum: 1, KVSName: "fake.ns"}, ""},
		{"no appnum", map[string]string{KeyJobSize: "2"}, nil, pmi.Info{Rank: 1, Size: 2, KVSName: "fake.ns"}, ""},
		{"no size", map[string]string{}, nil, pmi.Info{}, "does not provide it"},
		{"size not a number", map[string]string{KeyJobSize: "many"}, nil, pmi.Info{}, "not a count"},
		{"rank beyond size", map[string]string{KeyJobSize: "1"}, nil, pmi.Info{}, "outside the job size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newFakeJob(2)
			job.job = tt.job
			if tt.mine != nil {
				job.perRank[1] = tt.mine
			}
			got, err := jobInfo(job.client(1))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("jobInfo = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("jobInfo = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
