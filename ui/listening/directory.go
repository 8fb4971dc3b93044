package listening

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"earshot/relay/event"
	"earshot/ui/player"
)

// Directory is every talkgroup a listener can choose from: the server's
// catalogue (its systems and talkgroups, in its order) and, after them,
// talkgroups only seen in calls (a server that sends no catalogue, or one
// added since). It is built whole on a change and never modified, so
// snapshots share it.
type Directory struct {
	Systems []DirSystem
	Info    map[player.Talkgroup]TGInfo
}

// DirSystem is one system of the directory with its talkgroups in order.
type DirSystem struct {
	ID         int64
	Label      string
	Talkgroups []player.Talkgroup
}

// TGInfo is what the views show of a talkgroup.
type TGInfo struct {
	SystemLabel string `json:"systemLabel,omitempty"`
	Label       string `json:"label,omitempty"`
	Name        string `json:"name,omitempty"`
	Group       string `json:"group,omitempty"`
	Tag         string `json:"tag,omitempty"`
}

// tgInfoOf is what a call says of its talkgroup.
func tgInfoOf(c event.Call) TGInfo {
	return TGInfo{SystemLabel: c.SystemLabel, Label: c.TalkgroupLabel, Name: c.TalkgroupName,
		Group: c.TalkgroupGroup, Tag: c.TalkgroupTag}
}

// buildDirectory merges the catalogue and the talkgroups seen in calls.
func buildDirectory(cat event.Catalog, seen map[player.Talkgroup]TGInfo) Directory {
	d := Directory{Info: map[player.Talkgroup]TGInfo{}}
	index := map[int64]int{} // system id → d.Systems index
	for _, sys := range cat.Systems {
		index[sys.ID] = len(d.Systems)
		ds := DirSystem{ID: sys.ID, Label: sys.Label}
		for _, tg := range sys.Talkgroups {
			k := player.Talkgroup{SystemID: sys.ID, TalkgroupID: tg.ID}
			if _, dup := d.Info[k]; dup {
				continue
			}
			d.Info[k] = TGInfo{SystemLabel: sys.Label, Label: tg.Label, Name: tg.Name, Group: tg.Group, Tag: tg.Tag}
			ds.Talkgroups = append(ds.Talkgroups, k)
		}
		d.Systems = append(d.Systems, ds)
	}
	var extra []player.Talkgroup // seen in calls, not in the catalogue
	for k, info := range seen {
		if _, ok := d.Info[k]; !ok {
			d.Info[k] = info
			extra = append(extra, k)
		}
	}
	slices.SortFunc(extra, func(a, b player.Talkgroup) int {
		ia, ib := d.Info[a], d.Info[b]
		return cmp.Or(cmp.Compare(ia.SystemLabel, ib.SystemLabel), cmp.Compare(a.SystemID, b.SystemID),
			cmp.Compare(ia.Label, ib.Label), cmp.Compare(a.TalkgroupID, b.TalkgroupID))
	})
	for _, k := range extra {
		i, ok := index[k.SystemID]
		if !ok {
			i = len(d.Systems)
			index[k.SystemID] = i
			d.Systems = append(d.Systems, DirSystem{ID: k.SystemID, Label: d.Info[k].SystemLabel})
		}
		d.Systems[i].Talkgroups = append(d.Systems[i].Talkgroups, k)
	}
	return d
}

// System looks a system up by id.
func (d Directory) System(id int64) (DirSystem, bool) {
	for _, sys := range d.Systems {
		if sys.ID == id {
			return sys, true
		}
	}
	return DirSystem{}, false
}

// SystemLabel names a system.
func (d Directory) SystemLabel(id int64) string {
	if sys, ok := d.System(id); ok && sys.Label != "" {
		return sys.Label
	}
	return fmt.Sprintf("system %d", id)
}

// TalkgroupLabel names a talkgroup: its label, else its name, else its id.
func (d Directory) TalkgroupLabel(t player.Talkgroup) string {
	info := d.Info[t]
	switch {
	case info.Label != "":
		return info.Label
	case info.Name != "":
		return info.Name
	}
	return fmt.Sprintf("TG %d", t.TalkgroupID)
}

// Keys lists the talkgroups offered, system by system.
func (d Directory) Keys() []player.Talkgroup {
	var keys []player.Talkgroup
	for _, sys := range d.Systems {
		keys = append(keys, sys.Talkgroups...)
	}
	return keys
}

// Group and tag choices are worded "Group: X" and "Tag: Y".
const (
	AllGroups   = "All"
	groupPrefix = "Group: "
	tagPrefix   = "Tag: "
)

// InGroup tells whether the talkgroup belongs to a group/tag choice.
func (i TGInfo) InGroup(choice string) bool {
	switch {
	case choice == "" || choice == AllGroups:
		return true
	case strings.HasPrefix(choice, groupPrefix):
		return i.Group == strings.TrimPrefix(choice, groupPrefix)
	case strings.HasPrefix(choice, tagPrefix):
		return i.Tag == strings.TrimPrefix(choice, tagPrefix)
	}
	return false
}

// GroupChoices lists "All", then every group and tag, sorted.
func (d Directory) GroupChoices() []string {
	groups, tags := map[string]bool{}, map[string]bool{}
	for _, info := range d.Info {
		if info.Group != "" {
			groups[groupPrefix+info.Group] = true
		}
		if info.Tag != "" {
			tags[tagPrefix+info.Tag] = true
		}
	}
	g, t := slices.Sorted(maps.Keys(groups)), slices.Sorted(maps.Keys(tags))
	return append(append([]string{AllGroups}, g...), t...)
}

// wireTalkgroup is a talkgroup as a Directory travels in JSON (the window
// process reads it over its channel).
type wireTalkgroup struct {
	ID int64 `json:"talkgroupId"`
	TGInfo
}

type wireSystem struct {
	ID         int64           `json:"systemId"`
	Label      string          `json:"label"`
	Talkgroups []wireTalkgroup `json:"talkgroups"`
}

// MarshalJSON writes the directory as systems with their talkgroups.
func (d Directory) MarshalJSON() ([]byte, error) {
	out := make([]wireSystem, 0, len(d.Systems))
	for _, sys := range d.Systems {
		ws := wireSystem{ID: sys.ID, Label: sys.Label, Talkgroups: make([]wireTalkgroup, 0, len(sys.Talkgroups))}
		for _, k := range sys.Talkgroups {
			ws.Talkgroups = append(ws.Talkgroups, wireTalkgroup{ID: k.TalkgroupID, TGInfo: d.Info[k]})
		}
		out = append(out, ws)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Directory) UnmarshalJSON(b []byte) error {
	var in []wireSystem
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*d = Directory{Info: map[player.Talkgroup]TGInfo{}}
	for _, ws := range in {
		sys := DirSystem{ID: ws.ID, Label: ws.Label}
		for _, t := range ws.Talkgroups {
			k := player.Talkgroup{SystemID: ws.ID, TalkgroupID: t.ID}
			sys.Talkgroups = append(sys.Talkgroups, k)
			d.Info[k] = t.TGInfo
		}
		d.Systems = append(d.Systems, sys)
	}
	return nil
}
