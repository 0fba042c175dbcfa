package cli

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/spf13/cobra"
)

// What every verb does around its SDK calls: connect, find the registry's resource
// group, keep the server's answer to print it as received, wait for long-running
// operations.

// verb makes a verb's RunE: it connects and, when the verb names a registry (reg), finds
// the registry's resource group (resolve) before fn runs.
func (g *globals) verb(reg *target, fn func(cmd *cobra.Command, c *conn) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		c, err := g.connect(cmd)
		if err != nil {
			return err
		}
		if reg != nil {
			if err := c.resolve(cmd.Context(), reg); err != nil {
				return err
			}
		}
		return fn(cmd, c)
	}
}

// show makes a verb (as verb does) that prints, with cols, the server's last answer to
// the SDK calls that call makes with ctx.
func (g *globals) show(reg *target, cols []column, call func(ctx context.Context, cmd *cobra.Command, c *conn) error) func(*cobra.Command, []string) error {
	return g.verb(reg, func(cmd *cobra.Command, c *conn) error {
		body, err := answer(cmd.Context(), func(ctx context.Context) error { return call(ctx, cmd, c) })
		if err != nil {
			return err
		}
		return c.out.item(body, cols)
	})
}

// answer returns the body of the server's last answer to the SDK calls that call makes
// with ctx: the JSON as received, fields the SDK version does not model included.
func answer(ctx context.Context, call func(ctx context.Context) error) (json.RawMessage, error) {
	ctx, resp := capture(ctx)
	if err := call(ctx); err != nil {
		return nil, err
	}
	return payload(*resp)
}

// capture returns a context whose SDK calls keep their response (the last one wins).
func capture(ctx context.Context) (context.Context, **http.Response) {
	var resp *http.Response
	return policy.WithCaptureResponse(ctx, &resp), &resp
}

// done waits for the long-running operation that a Begin… call started; p and err are
// that call's results.
func done[T any](ctx context.Context, p *runtime.Poller[T], err error) error {
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(ctx, nil)
	return err
}

// collect pages through an SDK pager and returns the items as the server sent them.
func collect[T any](ctx context.Context, pager *runtime.Pager[T]) ([]json.RawMessage, error) {
	var items []json.RawMessage
	for pager.More() {
		body, err := answer(ctx, func(ctx context.Context) error {
			_, err := pager.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		page, err := values(body)
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
	}
	return items, nil
}
