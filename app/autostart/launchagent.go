package autostart

import (
	"encoding/xml"
	"path/filepath"
	"strings"
)

// launchAgentMark marks a LaunchAgent Earshot wrote.
const launchAgentMark = "<!-- written by Earshot: `earshot autostart off` removes it -->"

// launchAgent is the LaunchAgent in home/Library/LaunchAgents.
func launchAgent(home string) fileEntry {
	return fileEntry{
		path:   filepath.Join(home, "Library", "LaunchAgents", AppID+".plist"),
		mark:   launchAgentMark,
		render: renderPlist,
		parse:  parsePlistArguments,
	}
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func renderPlist(command []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(launchAgentMark + "\n")
	b.WriteString(`<plist version="1.0">` + "\n<dict>\n")
	b.WriteString("\t<key>Label</key>\n\t<string>" + AppID + "</string>\n")
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range command {
		b.WriteString("\t\t<string>" + xmlText(a) + "</string>\n")
	}
	b.WriteString("\t</array>\n")
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	b.WriteString("\t<key>ProcessType</key>\n\t<string>Interactive</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// plistDoc is as much of a plist as parsePlistArguments reads: the keys
// and values of the top dictionary, in order.
type plistDoc struct {
	Dict struct {
		Items []struct {
			XMLName xml.Name
			Text    string   `xml:",chardata"`
			Strings []string `xml:"string"`
		} `xml:",any"`
	} `xml:"dict"`
}

// parsePlistArguments returns the ProgramArguments of a LaunchAgent plist.
func parsePlistArguments(content string) []string {
	var doc plistDoc
	dec := xml.NewDecoder(strings.NewReader(content))
	dec.Strict = false
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	items := doc.Dict.Items
	for i := 0; i+1 < len(items); i++ {
		if items[i].XMLName.Local == "key" && items[i].Text == "ProgramArguments" && items[i+1].XMLName.Local == "array" {
			return items[i+1].Strings
		}
	}
	return nil
}
