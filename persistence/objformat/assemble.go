package objformat

import "fmt"

// TrailerSize is the number of bytes the index and footer of an object with
// entries blocks take: an object is its blocks plus this.
func TrailerSize(entries int) int { return indexSize(entries) + FooterSize }

// Assemble turns blocks laid out by the caller into an object: it checks
// that index describes them as a reader would check it (entries in order,
// blocks contiguous from 0 and ending at len(blocks)), then appends the
// index and footer. This is how compaction writes an object whose blocks it
// copied whole from other objects, without splitting them into batches. The
// result shares blocks' memory when its capacity holds TrailerSize more
// bytes; size it so, since growing it would copy the whole object.
func Assemble(blocks []byte, index []IndexEntry) ([]byte, error) {
	for i := range index {
		if err := validateEntry(index, i); err != nil {
			return nil, err
		}
	}
	if end := blocksEnd(index); end != int64(len(blocks)) {
		return nil, fmt.Errorf("%w: index covers %d bytes of blocks, there are %d", ErrCorrupt, end, len(blocks))
	}
	object := appendIndex(blocks, index)
	indexPosition := int64(len(blocks))
	return appendFooter(object, indexPosition, int64(len(object))-indexPosition), nil
}
