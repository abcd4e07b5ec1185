package main

// The CLI prints what the Python CLI prints (json.dumps(value, indent=2)): the same key
// order, floats as Python's repr (210.0, 1e-05), non-ASCII escaped. encoding/json writes
// 210 and 1e-5 and knows no key order, hence this small writer.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// field is one key of an ordered JSON object.
type field struct {
	key   string
	value interface{}
}

// object is a JSON object whose keys print in this order.
type object []field

// pyFloat is Python's repr of a float: the shortest digits that read back the same, in
// fixed notation for decimal exponents -4 to 16, with ".0" on whole numbers.
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(v, 'e', -1, 64) // -d.ddde±XX
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mantissa, exponent := s[:strings.IndexByte(s, 'e')], s[strings.IndexByte(s, 'e')+1:]
	digits := strings.Replace(mantissa, ".", "", 1)
	exp, _ := strconv.Atoi(exponent)
	if v == 0 {
		return sign + "0.0"
	}
	point := exp + 1 // value = 0.digits × 10^point
	if point <= -4 || point > 16 {
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		expSign := "+"
		if exp < 0 {
			expSign, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, expSign, exp)
	}
	switch {
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		return sign + digits[:point] + "." + digits[point:]
	}
}

// pyString is a JSON string as json.dumps writes it (ensure_ascii).
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r >= 0x20 && r < 0x7f {
				b.WriteRune(r)
			} else if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pyJSON writes value as json.dumps(value, indent=2) does.
func pyJSON(value interface{}) string {
	var b strings.Builder
	writeJSON(&b, value, "")
	return b.String()
}

func writeJSON(b *strings.Builder, value interface{}, indent string) {
	inner := indent + "  "
	switch v := value.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(pyFloat(v))
	case string:
		b.WriteString(pyString(v))
	case []string:
		items := make([]interface{}, len(v))
		for i := range v {
			items[i] = v[i]
		}
		writeJSON(b, items, indent)
	case []interface{}:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, item := range v {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner)
			writeJSON(b, item, inner)
		}
		b.WriteString("\n" + indent + "]")
	case map[string]float64:
		writeJSON(b, sortedObject(v), indent)
	case map[string]string:
		o := make(object, 0, len(v))
		for _, key := range sortedKeys(v) {
			o = append(o, field{key, v[key]})
		}
		writeJSON(b, o, indent)
	case object:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, f := range v {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner + pyString(f.key) + ": ")
			writeJSON(b, f.value, inner)
		}
		b.WriteString("\n" + indent + "}")
	default:
		panic(fmt.Sprintf("pyJSON: unsupported %T", value))
	}
}

func sortedObject(m map[string]float64) object {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	o := make(object, 0, len(m))
	for _, key := range keys {
		o = append(o, field{key, m[key]})
	}
	return o
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}
