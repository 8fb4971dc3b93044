package relay

import (
	"earshot/relay/alerts"
	"earshot/relay/event"
)

// SetAlertRules replaces the alert rules at once (they apply from the
// next call or transcript on). Invalid rules are refused and the old ones
// stay.
func (r *Relay) SetAlertRules(rules []alerts.Rule) error { return r.alerts.SetRules(rules) }

// AlertRules returns a copy of the alert rules in force.
func (r *Relay) AlertRules() []alerts.Rule { return r.alerts.Rules() }

// recordAlerts adds alerts that fired for held call id (its transcript
// arrived) to the call and publishes them. It runs on the backend's
// goroutine, like every change to the held calls.
func (r *Relay) recordAlerts(id int64, fired []event.Alert) {
	if len(fired) == 0 {
		return
	}
	r.mu.Lock()
	if i, ok := r.byID[id]; ok {
		// A new slice: copies of the call handed out earlier share the
		// old one and must not see it change.
		old := r.recent[i].Alerts
		r.recent[i].Alerts = append(old[:len(old):len(old)], fired...)
	}
	r.mu.Unlock()
	r.publishAlerts(fired)
}

// publishAlerts sends a call.alert event for each alert, in order.
func (r *Relay) publishAlerts(fired []event.Alert) {
	for i := range fired {
		a := fired[i]
		r.hub.Publish(event.Event{Type: event.TypeAlert, Alert: &a})
	}
}
