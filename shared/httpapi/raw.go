package httpapi

// Raw returns a parameter as decoded from JSON (numbers as json.Number), for
// structured values such as arrays of objects.
func (p Params) Raw(name string) (any, bool) {
	v, ok := p.m[name]
	return v, ok
}
