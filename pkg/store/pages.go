package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// errEnough, returned by an eachItem callback, ends the Query early without an error.
var errEnough = errors.New("store: enough items")

// eachItem runs in to its last page with the SDK's paginator and hands every item to each, in order; the consumed
// read units of each page go to report when it is not nil. An error of each ends it and is returned (errEnough
// ends it with none); a failed page is returned as is, for the caller to say what it was reading.
func eachItem(ctx context.Context, api dynamodb.QueryAPIClient, in *dynamodb.QueryInput, report func(op string, cc ...types.ConsumedCapacity),
	each func(item map[string]types.AttributeValue) error) error {
	pages := dynamodb.NewQueryPaginator(api, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		if report != nil && out.ConsumedCapacity != nil {
			report("Query", *out.ConsumedCapacity)
		}
		for _, item := range out.Items {
			if err := each(item); errors.Is(err, errEnough) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}
