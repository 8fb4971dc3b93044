package player

// Regain asks the GainFunc again for the call playing and the one decoded
// ahead, and glides each to its answer: the listener changed a
// talkgroup's volume or turned levelling over, and hears it at once rather
// from the next call. A call whose measurement has not come yet is given
// its gain when it comes (which asks the GainFunc then).
func (p *Player) Regain() {
	if p.gain == nil {
		return
	}
	p.mu.Lock()
	tracks := []*track{p.cur, p.next}
	p.unlock()
	for _, t := range tracks {
		if t == nil || t.level == nil || t.ent == nil {
			continue
		}
		if m, ok := t.ent.Loudness(); ok {
			g := p.callGain(t.e.call, m)
			p.log.Debug("call levelled anew", "call", t.e.call.ID, "gain_db", dB(g))
			t.level.glideTo(g)
		}
	}
}
