package container

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// ensureImage makes sure the engine has image, pulling it as policy says.
func ensureImage(ctx context.Context, c *client.Client, image, policy string) error {
	if policy != PullAlways {
		_, err := c.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if policy == PullNever {
			return fmt.Errorf("image %q is not available and pull is %q: %w", image, PullNever, err)
		}
	}
	if err := pull(ctx, c, image); err != nil {
		return fmt.Errorf("image %q could not be pulled: %w", image, err)
	}
	return nil
}

// pull pulls image and waits until the engine has it.
func pull(ctx context.Context, c *client.Client, image string) error {
	resp, err := c.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = resp.Close() }()
	return resp.Wait(ctx)
}
