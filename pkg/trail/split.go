package trail

import (
	"bytes"
	"context"
)

// Item is one record or event found in an input, with where it came from.
type Item struct {
	// Source is "path#index", index being the 0-based position of the item among all items the input holds (for
	// JSON Lines with one record a line, the 0-based index among non-blank lines), or just "path" when the input
	// holds one item.
	Source string
	// Decision is what the item is: a KMS event, a Bedrock job event, ignored or rejected, and why.
	Decision Decision
	// Record is the CloudTrail record when the item holds one. Read's fast path leaves a record that cannot matter
	// with only the fields read before that was known; Split decodes every record in full.
	Record Record
	// Err is set when the item is no CloudTrail record: it wraps ErrIgnored for an EventBridge event of another
	// detail-type (whose Decision may still be a Bedrock job event), else the item is rejected. It names Source.
	Err error
	// Raw is the JSON the item was read from: the CloudTrail record (an EventBridge event's detail, a Records
	// element, a decoded CloudTrailEvent string), or the whole EventBridge event when it is not a CloudTrail event.
	// It is nil for input that is not JSON. Tools that resend records (the rule-pattern test) use it.
	Raw []byte
}

// Split reads one whole input held in memory into items: Read, collected, with every record decoded in full.
// Replay streams with Read instead.
func Split(source string, data []byte) []Item {
	var items []Item
	_ = read(context.Background(), source, bytes.NewReader(data), false, func(it Item) error {
		items = append(items, it)
		return nil
	})
	return items
}
