package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mpiwrap/mpiwrap/pmi"
	"github.com/mpiwrap/mpiwrap/pmi/wire"
)

// v1Responses maps PMI-1 requests to their response commands.
var v1Responses = map[string]string{
	"init": "response_to_init", "initack": "initack", "get_maxes": "maxes",
	"get_appnum": "appnum", "get_my_kvsname": "my_kvsname",
	"get_universe_size": "universe_size", "put": "put_result",
	"barrier_in": "barrier_out", "get": "get_result", "finalize": "finalize_ack",
	"publish_name": "publish_result", "unpublish_name": "unpublish_result",
	"lookup_name": "lookup_result", "spawn": "spawn_result",
}

// v1Handler answers one PMI-1 request with the pairs after rc=0, or fails.
type v1Handler func(s *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error)

var v1Handlers map[string]v1Handler

func init() {
	v1Handlers = map[string]v1Handler{
		"init": v1Init, "get_maxes": v1Maxes, "get_appnum": v1AppNum,
		"get_my_kvsname": v1KVSName, "get_universe_size": v1Universe,
		"put": v1Put, "barrier_in": v1Barrier, "get": v1Get,
		"finalize": v1Finalize, "publish_name": v1Publish,
		"unpublish_name": v1Unpublish, "lookup_name": v1Lookup,
	}
}

// errNotFound carries a missing-key reply: rc=-1 with a hydra-style msg.
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what }

func (s *session) handleV1(ctx context.Context, f wire.Frame) error {
	m := f.Msg
	if m.Cmd == "initack" {
		return s.initack(m)
	}
	b := s.backend()
	h, ok := v1Handlers[m.Cmd]
	switch {
	case b == nil:
		return s.reply(wire.V1, errReply(wire.V1, "", m, -1, "send cmd=initack first"))
	case m.Cmd == "spawn":
		return s.reply(wire.V1, errReply(wire.V1, "", m, -1, "spawn_not_supported"))
	case !ok:
		return s.reply(wire.V1, errReply(wire.V1, "", m, -1, "unknown_command_"+m.Cmd))
	}
	kv, err := h(s, ctx, b, m)
	if err != nil {
		rc := -1
		var nf errNotFound
		if errors.As(err, &nf) && m.Cmd == "lookup_name" {
			rc = 1
		}
		return s.reply(wire.V1, errReply(wire.V1, "", m, rc, err.Error()))
	}
	r := wire.NewMsg(v1Responses[m.Cmd], append([]string{"rc", "0"}, kv...)...)
	return s.reply(wire.V1, r)
}

// initack names the rank of a PMI_PORT connection, then sends the four
// lines the client expects.
func (s *session) initack(m wire.Msg) error {
	id, ok, err := m.Int("pmiid")
	if s.byID == nil || !ok || err != nil {
		return s.reply(wire.V1, errReply(wire.V1, "", m, -1, "initack_needs_pmiid_on_a_PMI_PORT_connection"))
	}
	b, err := s.byID(id)
	if err != nil {
		return s.reply(wire.V1, errReply(wire.V1, "", m, -1, err.Error()))
	}
	s.held.Store(&holder{b})
	in := b.Info()
	var buf []byte
	for _, r := range []wire.Msg{
		wire.NewMsg("initack", "rc", "0"),
		wire.NewMsg("set", "size", strconv.Itoa(in.Size)),
		wire.NewMsg("set", "rank", strconv.Itoa(in.Rank)),
		wire.NewMsg("set", "debug", boolDigit(in.Debug)),
	} {
		buf, _ = wire.AppendV1(buf, r)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err = s.conn.Write(buf)
	return err
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func v1Init(_ *session, _ context.Context, _ Backend, m wire.Msg) ([]string, error) {
	v, _, err1 := m.Int("pmi_version")
	sub, _, err2 := m.Int("pmi_subversion")
	switch {
	case err1 != nil || err2 != nil:
		return nil, fmt.Errorf("bad_version")
	case v == 1:
		return []string{"pmi_version", "1", "pmi_subversion", "1"}, nil
	case v == 2 && sub == 0:
		return []string{"pmi_version", "2", "pmi_subversion", "0"}, nil
	}
	return nil, fmt.Errorf("unsupported_version_%d.%d", v, sub)
}

func v1Maxes(_ *session, _ context.Context, b Backend, _ wire.Msg) ([]string, error) {
	mx := wire.DefaultMaxes
	if l, ok := b.(Limiter); ok {
		mx = l.Maxes()
	}
	return []string{"kvsname_max", strconv.Itoa(mx.KVSName), "keylen_max", strconv.Itoa(mx.Key),
		"vallen_max", strconv.Itoa(mx.Value)}, nil
}

func v1AppNum(_ *session, _ context.Context, b Backend, _ wire.Msg) ([]string, error) {
	return []string{"appnum", strconv.Itoa(b.Info().AppNum)}, nil
}

func v1KVSName(_ *session, _ context.Context, b Backend, _ wire.Msg) ([]string, error) {
	return []string{"kvsname", b.Info().KVSName}, nil
}

func v1Universe(_ *session, ctx context.Context, b Backend, _ wire.Msg) ([]string, error) {
	n, err := universeSize(ctx, b)
	return []string{"size", strconv.Itoa(n)}, err
}

// universeSize is the universeSize attribute, or the job size without it.
func universeSize(ctx context.Context, b Backend) (int, error) {
	v, found, err := b.JobAttr(ctx, pmi.AttrUniverseSize)
	if err != nil {
		return 0, err
	}
	if n, perr := strconv.Atoi(v); found && perr == nil {
		return n, nil
	}
	return b.Info().Size, nil
}

// checkKVS rejects requests for another job's KVS.
func checkKVS(b Backend, m wire.Msg, key string) error {
	if k, ok := m.Get(key); ok && k != b.Info().KVSName {
		return fmt.Errorf("unknown_kvsname_%s", k)
	}
	return nil
}

func v1Put(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	val, _ := m.Get("value")
	if err := checkKVS(b, m, "kvsname"); err != nil {
		return nil, err
	}
	if err := checkPut(key, val, wire.V1); err != nil {
		return nil, err
	}
	return nil, b.Put(ctx, key, val)
}

func checkPut(key, val string, p wire.Proto) error {
	if err := wire.CheckKey(key); err != nil {
		return err
	}
	return wire.CheckValue(val, p)
}

func v1Barrier(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	if g, ok := m.Get("group"); ok && !strings.HasPrefix(g, "WORLD") {
		return nil, fmt.Errorf("barrier_groups_not_supported")
	}
	return nil, b.Fence(ctx)
}

func v1Get(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	key, _ := m.Get("key")
	if err := checkKVS(b, m, "kvsname"); err != nil {
		return nil, err
	}
	if err := wire.CheckKey(key); err != nil {
		return nil, err
	}
	v, found, err := lookup(ctx, b, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound{"key_" + key + "_not_found"}
	}
	return []string{"value", v}, nil
}

// lookup answers PMI_* keys from the job attributes first, as hydra does
// for PMI_process_mapping, then from the KVS.
func lookup(ctx context.Context, b Backend, key string) (string, bool, error) {
	if strings.HasPrefix(key, "PMI_") {
		v, found, err := b.JobAttr(ctx, key)
		if err != nil || found {
			return v, found, err
		}
	}
	return b.Get(ctx, pmi.AnyRank, key)
}

func v1Finalize(s *session, ctx context.Context, b Backend, _ wire.Msg) ([]string, error) {
	if err := b.Finalize(ctx); err != nil {
		return nil, err
	}
	s.finalized.Store(true)
	return nil, nil
}

func v1Publish(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	svc, _ := m.Get("service")
	port, _ := m.Get("port")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return []string{"info", "ok"}, n.Publish(ctx, svc, port)
}

func v1Unpublish(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	svc, _ := m.Get("service")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return []string{"info", "ok"}, n.Unpublish(ctx, svc)
}

func v1Lookup(_ *session, ctx context.Context, b Backend, m wire.Msg) ([]string, error) {
	svc, _ := m.Get("service")
	n, ok := b.(Names)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	port, found, err := n.Lookup(ctx, svc)
	if err == nil && !found {
		err = errNotFound{"service_not_found"}
	}
	return []string{"info", "ok", "port", port}, err
}
