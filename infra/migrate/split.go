package migrate

import (
	"strings"
	"unicode"
)

// Split cuts a migration into the statements the Supabase CLI records in
// schema_migrations.statements. The rules follow the CLI's tokenizer
// (supabase/cli apps/cli-go/pkg/parser/state.go, ReadyState.Next and the
// states it hands over to; SplitAndTrim in token.go): a statement ends at a
// ';' that is outside quotes ('...', "..."), dollar quotes ($tag$...$tag$),
// comments (-- to end of line, nested /* */), parentheses and a
// BEGIN ATOMIC ... END body; a backslash outside quotes escapes the next
// character. Each piece has trailing ';' and surrounding space trimmed, and
// empty pieces are dropped (a trailing comment stays a piece, as in the CLI).
func Split(sql string) []string {
	var out []string
	rs := []rune(sql)
	start, depth, atomic := 0, 0, false
	emit := func(end int) {
		s := strings.TrimSpace(strings.TrimRight(string(rs[start:end]), ";"))
		if s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'' || r == '"':
			// '' (or "") inside is the quote itself: the loop just re-enters.
			for i++; i < len(rs) && rs[i] != r; i++ {
			}
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i++; i < len(rs) && rs[i] != '\n'; i++ {
			}
		case r == '/' && i+1 < len(rs) && rs[i+1] == '*':
			n := 0
			for ; i+1 < len(rs); i++ {
				if rs[i] == '/' && rs[i+1] == '*' {
					n++
					i++
				} else if rs[i] == '*' && rs[i+1] == '/' {
					n--
					i++
					if n == 0 {
						break
					}
				}
			}
		case r == '$':
			j := i + 1
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
				j++
			}
			if j < len(rs) && rs[j] == '$' {
				tag := rs[i : j+1]
				i = len(rs)
				for k := j + 1; k+len(tag) <= len(rs); k++ {
					if string(rs[k:k+len(tag)]) == string(tag) {
						i = k + len(tag) - 1
						break
					}
				}
			}
		case r == '\\':
			i++
		case r == '(':
			depth++
		case r == ')':
			if depth > 0 {
				depth--
			}
		case unicode.IsLetter(r) || r == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '$') {
				j++
			}
			word := strings.ToUpper(string(rs[i:j]))
			if word == "ATOMIC" && strings.HasSuffix(strings.ToUpper(strings.TrimRightFunc(string(rs[start:i]), unicode.IsSpace)), "BEGIN") {
				atomic = true
			} else if word == "END" && atomic && depth == 0 {
				atomic = false
			}
			i = j - 1
		case r == ';' && depth == 0 && !atomic:
			emit(i + 1)
		}
	}
	emit(len(rs))
	return out
}
