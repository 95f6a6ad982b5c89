package logs

import (
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// azureFD parses Azure Front Door access logs (the FrontDoorAccessLog /
// FrontdoorAccessLog diagnostic category): one Azure Monitor record per
// line, as a storage account's diagnostic export writes them —
// {"time":…,"category":"FrontDoorAccessLog","properties":{"clientIp":…,
// "httpMethod":…,"requestUri":"https://host:443/path?q","hostName":…,
// "httpStatusCode":"200","pop":…,"cacheStatus":"HIT",…}} — or flattened as
// Log Analytics' AzureDiagnostics table exports them (TimeGenerated,
// clientIp_s, requestUri_s, cacheStatus_s, …). Built from Microsoft's
// "Monitor metrics and logs in Azure Front Door" page (access log
// properties, the cacheStatus values and the table of log entries per
// caching scenario) and the X-Cache values of "Azure Front Door to
// backend" headers (TCP_HIT/REMOTE_HIT/MISS/PRIVATE_NOSTORE/CONFIG_NOCACHE/N/A).
//
// Front Door logs no cookies: the identity is a field (field:NAME, read
// from properties.NAME or a top-level NAME), or none.
type azureFD struct {
	vocab *Vocab
	q     jsonQuery
	// Each part is read from the first of its keys present in the line.
	parts [afdParts][]int
	ident jsonField
	idLit int // the top-level key NAME of field:NAME (flattened exports)
	idKey string
	batch int // "records": an Event Hubs batch, not one record
}

const (
	afdTime = iota
	afdIP
	afdMethod
	afdURI
	afdHost
	afdStatus
	afdCache
	afdPop
	afdParts
)

// afdKeys are the keys of each part, in the order they are tried: the
// diagnostic record's properties, then AzureDiagnostics' flattened columns.
var afdKeys = [afdParts][][]string{
	afdTime:   {{"time"}, {"TimeGenerated"}},
	afdIP:     {{"properties", "clientIp"}, {"properties", "clientIP"}, {"clientIp_s"}},
	afdMethod: {{"properties", "httpMethod"}, {"httpMethod_s"}},
	afdURI:    {{"properties", "requestUri"}, {"requestUri_s"}},
	afdHost:   {{"properties", "hostName"}, {"hostName_s"}},
	afdStatus: {{"properties", "httpStatusCode"}, {"httpStatusCode_s"}},
	afdCache:  {{"properties", "cacheStatus"}, {"cacheStatus_s"}},
	afdPop:    {{"properties", "pop"}, {"pop_s"}},
}

var afdNames = [afdParts]string{"time", "clientIp", "httpMethod", "requestUri", "hostName", "httpStatusCode", "cacheStatus", "pop"}

// afdSlots bounds the values a Front Door line is read for.
const afdSlots = 24

// NewAzureFrontDoor returns the parser for Azure Front Door access logs.
func NewAzureFrontDoor(id Identity) (Parser, error) {
	p := &azureFD{vocab: azureFDVocab, ident: noField, idLit: -1}
	for part, keys := range afdKeys {
		for _, k := range keys {
			s, err := p.q.add(k...)
			if err != nil {
				return nil, err
			}
			p.parts[part] = append(p.parts[part], s)
		}
	}
	var err error
	if p.batch, err = p.q.add("records"); err != nil {
		return nil, err
	}
	switch id.Kind {
	case "":
	case "field":
		p.idKey = id.Name
		if p.ident, err = p.q.addField("properties." + id.Name); err == nil {
			p.idLit, err = p.q.add(id.Name)
		}
	case "cookie":
		return nil, fmt.Errorf("Azure Front Door access logs hold no cookies: use identity field:NAME with a field the logs carry, or no identity")
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in Azure Front Door logs; use field:NAME")
	default:
		return nil, fmt.Errorf("identity %q: want field:NAME", id.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s:%s: %w", id.Kind, id.Name, err)
	}
	if p.q.nslots > afdSlots {
		return nil, fmt.Errorf("identity %s:%s: too many JSON values to read", id.Kind, id.Name)
	}
	return p, nil
}

// get returns the first present value of part, or nil.
func (p *azureFD) get(vals []jsonValue, part int) *jsonValue {
	for _, s := range p.parts[part] {
		if vals[s].present() {
			return &vals[s]
		}
	}
	return nil
}

// Parse implements Parser.
func (p *azureFD) Parse(line []byte, rec *Record) error {
	var vals [afdSlots]jsonValue
	if e, ok := p.q.scan(line, vals[:]); !ok {
		return reject(e.reason())
	}
	if vals[p.batch].kind == jsonArray {
		return reject(`a {"records":[…]} batch inside a file (the Event Hubs form): give each batch its own file, or write one record per line`)
	}

	v := p.get(vals[:], afdTime)
	if v == nil {
		return reject("time missing")
	}
	var err error
	if rec.Time, rec.Coarse, err = jsonTime("time", v); err != nil {
		return err
	}

	if v = p.get(vals[:], afdStatus); v == nil {
		return reject("httpStatusCode missing")
	}
	if rec.Status, err = jsonStatus("httpStatusCode", v); err != nil {
		return err
	}

	if v = p.get(vals[:], afdCache); v == nil {
		return reject("cacheStatus missing")
	}
	if rec.CacheRaw, err = jsonText("cacheStatus", v); err != nil {
		return err
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	if v = p.get(vals[:], afdHost); v != nil {
		if rec.Host, err = jsonText("hostName", v); err != nil {
			return err
		}
	}
	if v = p.get(vals[:], afdURI); v == nil {
		return reject("requestUri missing")
	}
	uri, err := jsonText("requestUri", v)
	if err != nil {
		return err
	}
	if err := splitTarget(uri, rec); err != nil {
		return err
	}

	if v = p.get(vals[:], afdIP); v != nil {
		ip, err := jsonText("clientIp", v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr("clientIp", ip); err != nil {
			return err
		}
	}
	for _, part := range [...]int{afdMethod, afdPop} {
		if v = p.get(vals[:], part); v == nil {
			continue
		}
		t, err := jsonText(afdNames[part], v)
		if err != nil {
			return err
		}
		if part == afdMethod {
			rec.Method = t
		} else {
			rec.Pop = t
		}
	}

	if v = p.ident.get(vals[:]); v != nil {
		if !v.present() && p.idLit >= 0 && vals[p.idLit].present() {
			v = &vals[p.idLit]
		}
		id, err := jsonScalar(p.idKey, v)
		if err != nil {
			return err
		}
		if !anonymous(id) && string(id) != "N/A" {
			rec.Identity = id
		}
	}
	return nil
}

func (p *azureFD) setVocab(v *Vocab) { p.vocab = v }

// azureFDVocab is cacheStatus's. HIT is the edge's cache; REMOTE_HIT a
// regional cache (origin shield) or another edge's; PARTIAL_HIT served some
// bytes of a stored object (a large file in chunks), so a stored object
// reached the client: CACHED. MISS is fetched from the origin and stored.
// CONFIG_NOCACHE / CACHE_NOCONFIG: caching is off for the route (or
// bypassed by a rule); PRIVATE_NOSTORE / UNCACHEABLE: the origin forbade
// storing; N/A: denied by a signed URL, WAF or a rule, a response Front
// Door made itself. Anything else (and an empty value) stays unknown.
var azureFDVocab = NewVocab(
	[]string{"MISS"},
	[]string{"HIT", "REMOTE_HIT", "PARTIAL_HIT"},
	[]string{"CONFIG_NOCACHE", "CACHE_NOCONFIG", "PRIVATE_NOSTORE", "UNCACHEABLE", "N/A"},
)

var azureFrontDoorFormat = &Format{
	Name:  "azure-frontdoor",
	Title: "Azure Front Door access logs (FrontDoorAccessLog records: one JSON object per line, a JSON array, or one {\"records\": [...]} batch)",
	Vocab: azureFDVocab,
	Config: "enable the diagnostic setting for FrontDoorAccessLog and archive it to a storage account (one record per line); " +
		"flattened AzureDiagnostics rows (TimeGenerated, clientIp_s, requestUri_s, cacheStatus_s, …) are read too; " +
		"Front Door logs no cookies, so identity is field:NAME or none",
	Example:   `{"time":"2017-06-22T00:41:00.1234567Z","category":"FrontDoorAccessLog","properties":{"httpMethod":"GET","requestUri":"https://www.example.jp:443/mypage/profile","hostName":"www.example.jp","clientIp":"203.0.113.9","httpStatusCode":"200","pop":"TYO","cacheStatus":"HIT"}}`,
	CacheHint: "Front Door always logs cacheStatus: check that the records are FrontDoorAccessLog ones",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewAzureFrontDoor(id)
	},
}

// jsonRecords: an exported file may hold a JSON array or pretty-printed
// records (see jsonframe.go).
func (p *azureFD) jsonRecords() {}
