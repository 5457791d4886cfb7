package store

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/grantwatch/grantwatch/pkg/lifecycle"
)

// JobItemSize is the DynamoDB size of the item Table stores for r.
func JobItemSize(r lifecycle.JobRecord) (int, error) {
	it, err := jobItemOf(r)
	if err != nil {
		return 0, err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return 0, err
	}
	return ItemSize(item)
}

// ItemSize is an item's size as DynamoDB counts it against the 400 KB limit and for capacity: each attribute's
// name plus its value (a string's UTF-8 bytes; a number's significant digits, two per byte, plus one).
func ItemSize(item map[string]types.AttributeValue) (int, error) {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += (len(v.Value)+1)/2 + 1
		case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
			n++
		default:
			return 0, fmt.Errorf("attribute %s: %T is not sized here", name, v)
		}
	}
	return n, nil
}
