package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/client"
)

// Our PMI-2 requests: left-justified lengths, as old MPICH and libpmi2.
var (
	init2     = "cmd=init pmi_version=2 pmi_subversion=0\n"
	fullinit  = v2("cmd=fullinit;pmijobid=42.0;pmirank=1;threaded=FALSE;", true)
	jobGetID  = v2("cmd=job-getid;", true)
	kvsGetK   = v2("cmd=kvs-get;jobid=42.0;srcid=0;key=k;", true)
	kvsFence  = v2("cmd=kvs-fence;", true)
	finalize2 = v2("cmd=finalize;", true)
)

func TestPMI2Transcripts(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		wantInfo  pmi.Info
		wantVal   string
		wantFound bool
	}{
		{"hydra 4.0", []step{
			{init2, "cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0\n"},
			{fullinit, v2("cmd=fullinit-response;pmi-version=2;pmi-subversion=0;rank=1;size=2;appnum=0;debugged=FALSE;pmiverbose=FALSE;rc=0;", false)},
			{jobGetID, v2("cmd=job-getid-response;jobid=42.0;rc=0;", false)},
			{kvsGetK, v2("cmd=kvs-get-response;found=TRUE;value=a;;b;rc=0;", false)},
		}, pmi.Info{Rank: 1, Size: 2, KVSName: "42.0"}, "a;b", true},
		{"hydra 4.1 with thrid", []step{
			{init2, v2("cmd=response_to_init;rc=0;pmi_version=2;pmi_subversion=0;", false)},
			{fullinit, v2("cmd=fullinit-response;rc=0;rank=1;size=2;appnum=3;pmiverbose=1;spawner-jobid=7.0;", false)},
			{jobGetID, v2("cmd=job-getid-response;thrid=0x1;rc=0;jobid=42.0;", false)},
			{kvsGetK, v2("cmd=kvs-get-response;thrid=0x1;rc=0;found=FALSE;", false)},
		}, pmi.Info{Rank: 1, Size: 2, AppNum: 3, KVSName: "42.0", Spawned: true, Debug: true}, "", false},
		{"slurm", []step{
			{init2, "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"},
			{fullinit, v2("cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=1;size=2;appnum=-1;debugged=FALSE;pmiverbose=FALSE;", true)},
			{jobGetID, v2("cmd=job-getid-response;rc=0;jobid=42.0;", true)},
			{kvsGetK, v2("cmd=kvs-get-response;rc=0;found=TRUE;value=v", true)},
		}, pmi.Info{Rank: 1, Size: 2, AppNum: -1, KVSName: "42.0"}, "v", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, done := scripted(t, tt.steps)
			p, err := client.NewPMI2(ctx, client.Config{Conn: c, Rank: 1, Size: 2, JobID: "42.0"})
			if err != nil {
				t.Fatal(err)
			}
			if in := p.Info(); in != tt.wantInfo {
				t.Fatalf("Info = %+v, want %+v", in, tt.wantInfo)
			}
			v, found, err := p.Get(ctx, 0, "k")
			if err != nil || v != tt.wantVal || found != tt.wantFound {
				t.Fatalf("Get = %q, %v, %v; want %q, %v", v, found, err, tt.wantVal, tt.wantFound)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPMI2Session replays the rest of a session: put, fence, attributes,
// node attributes, names, abort and finalize.
func TestPMI2Session(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, done := scripted(t, []step{
		{init2, "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"},
		{fullinit, v2("cmd=fullinit-response;rc=0;rank=1;size=2;", true)},
		{jobGetID, v2("cmd=job-getid-response;rc=0;jobid=42.0;", true)},
		{v2("cmd=kvs-put;key=k;value=a b;", true), v2("cmd=kvs-put-response;rc=0;", false)},
		{kvsFence, v2("cmd=kvs-fence-response;rc=0;", false)},
		{v2("cmd=info-getjobattr;key=universeSize;", true), v2("cmd=info-getjobattr-response;rc=0;found=TRUE;value=2;", false)},
		{v2("cmd=info-putnodeattr;key=n;value=1;", true), v2("cmd=info-putnodeattr-response;rc=0;", false)},
		{v2("cmd=info-getnodeattr;key=n;wait=TRUE;", true), v2("cmd=info-getnodeattr-response;rc=0;found=TRUE;value=1;", false)},
		{v2("cmd=name-lookup;name=s;infokeycount=0;", true), v2("cmd=name-lookup-response;rc=0;value=p;", true)},
		{finalize2, v2("cmd=finalize-response;rc=0;", false)},
		{v2("cmd=abort;isworld=TRUE;exitcode=3;msg=bye, now;message=bye, now;", true), ""},
	})
	p, err := client.NewPMI2(ctx, client.Config{Conn: c, Rank: 1, Size: 2, JobID: "42.0"})
	if err != nil {
		t.Fatal(err)
	}
	calls := []func() error{
		func() error {
			if p.Put(ctx, "k", "a;b") == nil {
				return errors.New("a value with ';' was sent")
			}
			return p.Put(ctx, "k", "a b")
		},
		func() error { return p.Fence(ctx) },
		func() error { return wantAttr(p.JobAttr(ctx, pmi.AttrUniverseSize))("2") },
		func() error { return p.PutNodeAttr(ctx, "n", "1") },
		func() error { return wantAttr(p.GetNodeAttr(ctx, "n", true))("1") },
		func() error { return wantAttr(p.Lookup(ctx, "s"))("p") },
		func() error { return p.Finalize(ctx) },
		func() error { return p.Abort(ctx, 3, "bye; now") },
	}
	for i, f := range calls {
		if err := f(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPMI2Failures(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"flux refuses 2.0", []step{{init2, "cmd=response_to_init rc=-1 pmi_version=1 pmi_subversion=1\n"}}},
		{"fullinit rc", []step{{init2, "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"},
			{fullinit, v2("cmd=fullinit-response;rc=3;errmsg=invalid args;", true)}}},
		{"fullinit without size", []step{{init2, "cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n"},
			{fullinit, v2("cmd=fullinit-response;rc=0;rank=1;", true)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _ := scripted(t, tt.steps)
			if _, err := client.NewPMI2(ctx, client.Config{Conn: c, Rank: 1, Size: 2, JobID: "42.0"}); err == nil {
				t.Fatal("NewPMI2 succeeded")
			}
		})
	}
}
