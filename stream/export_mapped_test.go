package stream

// SetMapBounds sets the least and the most of a file that is mapped, for a
// test, and returns the function that puts them back.
func SetMapBounds(least, most int64) (restore func()) {
	oldMin, oldMax := mapMin, mapMax
	mapMin, mapMax = least, most
	return func() { mapMin, mapMax = oldMin, oldMax }
}

// Mapped returns how many inputs r mapped.
func Mapped(r *Reader) int { return r.mapped }

// ErrShrank is the cause given when a mapped file shrinks while it is read.
var ErrShrank = errShrank
