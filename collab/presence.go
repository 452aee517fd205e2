package collab

import (
	"context"

	"github.com/cowrite/cowrite/collab/ot"
)

// maxCatchUpOps: a join further behind than this gets the content instead
// of the ops.
const maxCatchUpOps = 10000

func (d *sequencer) join(ctx context.Context, s SocketID, jm Member, since *uint64) (*JoinResult, *ot.Doc, error) {
	m := d.members[s]
	if m == nil {
		if err := d.admit(jm); err != nil {
			return nil, nil, err
		}
	}
	res := &JoinResult{Doc: d.id, Version: d.durable, Presence: []PresenceEvent{}}
	var content *ot.Doc
	switch {
	case since == nil:
		content = d.docAt(d.durable)
	case *since > d.durable:
		return nil, nil, errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", *since, d.durable)
	case d.durable-*since > maxCatchUpOps:
		content = d.docAt(d.durable)
	default:
		recs, err := d.opsSince(ctx, *since, d.durable)
		switch {
		case err == nil:
			res.Ops = make([]OpEvent, len(recs))
			for i, r := range recs {
				res.Ops[i] = OpEvent{Doc: d.id, Version: r.Version, Op: r.Op, Client: r.Client}
			}
		case CodeOf(err) == CodeVersionTooOld:
			content = d.docAt(d.durable)
		default:
			return nil, nil, err
		}
	}
	if m == nil {
		d.joins++
		m = &member{joined: d.joins}
		d.members[s] = m
		d.h.trackSocket(s, d.id, true)
	}
	m.user, m.identity, m.viewer = jm.User, jm.Identity, jm.Viewer
	m.client = ""
	if jm.Client != "" && !jm.Viewer {
		// Joining with a client id claims it and makes this socket the
		// newest (see bindClient) unless another identity holds it: the
		// join then succeeds without it (and ops under it are forbidden).
		if b, bound := d.clients[jm.Client]; !bound || b.identity == jm.Identity {
			d.joins++
			m.joined = d.joins
			m.client = jm.Client
			d.clients[jm.Client] = binding{s, jm.Identity}
		}
	}
	for os, o := range d.members {
		if os == s || o.sel == nil {
			continue
		}
		if !d.presenceToDurable(o) {
			continue
		}
		res.Presence = append(res.Presence, d.presenceEvent(os, o))
	}
	return res, content, nil
}

func (d *sequencer) leave(s SocketID) error {
	m := d.members[s]
	if m == nil {
		return errorf(CodeNotJoined, "session has not joined document %q", d.id)
	}
	delete(d.members, s)
	d.h.trackSocket(s, d.id, false)
	for c, b := range d.clients {
		if b.socket == s {
			delete(d.clients, c)
		}
	}
	delete(d.buckets, "o:s:"+string(s))
	delete(d.buckets, "p:s:"+string(s))
	m.sel = nil
	if !d.presentedByOther(s, m) {
		d.h.bc.BroadcastPresence(d.id, s, d.presenceEvent(s, m))
	}
	return nil
}

// presentedByOther reports whether another member shows as the same
// presence client as m (a client that reconnected on a new socket): the
// old socket's leave must not clear the new socket's cursor with a null
// selection under that client id.
func (d *sequencer) presentedByOther(s SocketID, m *member) bool {
	if m.client == "" {
		return false
	}
	for os, o := range d.members {
		if os != s && o.client == m.client {
			return true
		}
	}
	return false
}

// admit checks Options.MaxCollaborators, the room kept for editors
// (Options.EditorReserve) and Options.MaxJoinsPerIdentity for a new member.
func (d *sequencer) admit(jm Member) error {
	o := &d.h.opts
	if len(d.members) >= o.MaxCollaborators {
		return errorf(CodeRateLimited, "document %q has the maximum of %d collaborators", d.id, o.MaxCollaborators)
	}
	if jm.Viewer && len(d.members) >= o.MaxCollaborators-min(o.EditorReserve, o.MaxCollaborators/2) {
		return errorf(CodeRateLimited, "document %q has no room left for viewers (the last %d places are kept for editors)", d.id, min(o.EditorReserve, o.MaxCollaborators/2))
	}
	if jm.Identity == "" {
		return nil
	}
	n := 0
	for _, om := range d.members {
		if om.identity == jm.Identity {
			n++
		}
	}
	if n >= o.MaxJoinsPerIdentity {
		return errorf(CodeRateLimited, "at most %d connections of one user may join document %q", o.MaxJoinsPerIdentity, d.id)
	}
	return nil
}

func (d *sequencer) setPresence(s SocketID, version uint64, sel []ot.Selection) error {
	m := d.members[s]
	if m == nil {
		return errorf(CodeNotJoined, "session has not joined document %q", d.id)
	}
	if err := d.rateLimit("p:", m.identity, "", s); err != nil {
		return err
	}
	if version > d.durable {
		return errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", version, d.durable)
	}
	if sel != nil && version+1 < d.histStart {
		return errorf(CodeVersionTooOld, "version %d is too old for presence", version)
	}
	if sel == nil {
		m.sel = nil
	} else {
		m.sel = append(make([]ot.Selection, 0, len(sel)), sel...)
		m.selVer = version
		d.presenceToDurable(m)
	}
	d.h.bc.BroadcastPresence(d.id, s, d.presenceEvent(s, m))
	return nil
}

// presenceToDurable transforms m.sel to the durable head; false (and the
// selection dropped) when the ops needed are no longer in memory.
func (d *sequencer) presenceToDurable(m *member) bool {
	if m.sel == nil {
		return false
	}
	if m.selVer+1 < d.histStart || m.selVer > d.durable {
		m.sel = nil
		return false
	}
	for v := m.selVer + 1; v <= d.durable; v++ {
		op := d.hist[v-d.histStart].rec.Op
		for i := range m.sel {
			m.sel[i] = ot.TransformSelection(m.sel[i], op)
		}
	}
	m.selVer = d.durable
	n := d.docAt(d.durable).Len()
	for i := range m.sel {
		m.sel[i].Anchor = min(m.sel[i].Anchor, n)
		m.sel[i].Head = min(m.sel[i].Head, n)
	}
	return true
}

// clampPresence drops selections that are ahead of a reloaded document.
func (d *sequencer) clampPresence() {
	for _, m := range d.members {
		if m.sel != nil && m.selVer > d.durable {
			m.sel = nil
		}
	}
}

func (d *sequencer) presenceEvent(s SocketID, m *member) PresenceEvent {
	client := m.client
	if client == "" {
		client = string(s)
	}
	var sel []ot.Selection
	if m.sel != nil {
		sel = append(make([]ot.Selection, 0, len(m.sel)), m.sel...)
	}
	return PresenceEvent{Doc: d.id, Client: client, User: m.user, Version: d.durable, Selection: sel}
}
