package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// v2Handler answers one PMI-2 request with the pairs after rc=0, or fails.
type v2Handler func(s *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error)

var v2Handlers map[string]v2Handler

func init() {
	v2Handlers = map[string]v2Handler{
		"fullinit": v2FullInit, "job-getid": v2JobID, "kvs-put": v2Put,
		"kvs-fence": v2Fence, "kvs-get": v2Get, "info-getjobattr": v2JobAttr,
		"info-putnodeattr": v2PutNodeAttr, "info-getnodeattr": v2GetNodeAttr,
		"finalize": v2Finalize, "name-publish": v2Publish,
		"name-unpublish": v2Unpublish, "name-lookup": v2Lookup,
	}
}

// handleV2 builds the reply to one PMI-2 request: cmd, thrid (echoed),
// rc, then the handler's pairs.
func (s *session) handleV2(ctx context.Context, m wire.Msg) wire.Msg {
	b := s.backend()
	h, ok := v2Handlers[m.Cmd]
	switch {
	case b == nil:
		return errReply(wire.V2, "", m, -1, "send cmd=initack first")
	case !ok:
		return errReply(wire.V2, "", m, -1, fmt.Sprintf("command %s is not supported", m.Cmd))
	}
	kv, err := h(s, ctx, b, m)
	if err != nil {
		return errReply(wire.V2, "", m, -1, err.Error())
	}
	r := wire.Msg{Cmd: m.Cmd + "-response"}
	if th, ok := m.Get("thrid"); ok {
		r.Add("thrid", th)
	}
	r.Add("rc", "0")
	for i := 0; i+1 < len(kv); i += 2 {
		r.Add(kv[i], kv[i+1])
	}
	return r
}

// v2FullInit answers with both the old (TRUE/FALSE, pmi-version) and new
// fields, which every known client accepts.
func v2FullInit(_ *session, _ context.Context, b Backend, m wire.Msg) ([]string, error) {
	in := b.Info()
	id, ok, err := m.Int("pmirank")
	if !ok {
		id, ok, err = m.Int("srcid")
	}
	if err != nil || (ok && id != in.Rank) {
		return nil, fmt.Errorf("fullinit for rank %q on the connection of rank %d", fmt.Sprint(id), in.Rank)
	}
	return []string{"pmi-version", "2", "pmi-subversion", "0", "rank", strconv.Itoa(in.Rank),
		"size", strconv.Itoa(in.Size), "appnum", strconv.Itoa(in.AppNum),
		"debugged", "FALSE", "pmiverbose", boolWord(in.Debug)}, nil
}

func boolWord(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func v2JobID(_ *session, _ context.Context, b Backend, _ wire.Msg) ([]string, error) {
	return []string{"jobid", b.Info().KVSName}, nil
}

func v2Put(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	val, _ := m.Get("value")
	if err := checkPut(key, val, wire.V2); err != nil {
		return nil, err
	}
	return nil, b.Put(ctx, key, val)
}

func v2Fence(_ *session, ctx context.Context, b Backend, _ wire.Msg) ([]string, error) {
	return nil, b.Fence(ctx)
}

func v2Get(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	if err := checkKVS(b, m, "jobid"); err != nil {
		return nil, err
	}
	if err := wire.CheckKey(key); err != nil {
		return nil, err
	}
	src, ok, err := m.Int("srcid")
	if err != nil || !ok || src < 0 {
		src = pmi.AnyRank
	}
	v, found, err := b.Get(ctx, src, key)
	return foundPairs(v, found), err
}

func foundPairs(v string, found bool) []string {
	if !found {
		return []string{"found", "FALSE"}
	}
	return []string{"found", "TRUE", "value", v}
}

func v2JobAttr(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	if err := wire.CheckKey(key); err != nil {
		return nil, err
	}
	if key == pmi.AttrUniverseSize {
		n, err := universeSize(ctx, b)
		return foundPairs(strconv.Itoa(n), true), err
	}
	v, found, err := b.JobAttr(ctx, key)
	return foundPairs(v, found), err
}

func v2PutNodeAttr(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	val, _ := m.Get("value")
	na, ok := b.(NodeAttrs)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	if err := checkPut(key, val, wire.V2); err != nil {
		return nil, err
	}
	return nil, na.PutNodeAttr(ctx, key, val)
}

func v2GetNodeAttr(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	na, ok := b.(NodeAttrs)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	v, found, err := na.GetNodeAttr(ctx, key, m.Bool("wait"))
	return foundPairs(v, found), err
}

func v2Finalize(s *session, ctx context.Context, b Backend, _ wire.Msg) ([]string, error) {
	if err := b.Finalize(ctx); err != nil {
		return nil, err
	}
	s.finalized.Store(true)
	return nil, nil
}

func v2Publish(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	name, _ := m.Get("name")
	port, _ := m.Get("port")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return nil, n.Publish(ctx, name, port)
}

func v2Unpublish(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	name, _ := m.Get("name")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return nil, n.Unpublish(ctx, name)
}

// v2Lookup sends the port as both port= (hydra) and value= (what the
// MPICH 4.0 client reads).
func v2Lookup(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	name, _ := m.Get("name")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	port, found, err := n.Lookup(ctx, name)
	if err != nil || !found {
		return []string{"found", "FALSE"}, err
	}
	return []string{"found", "TRUE", "port", port, "value", port}, nil
}
