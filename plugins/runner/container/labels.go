package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/prox-dev/prox/sdk"
	"os"

	"github.com/moby/moby/client"
)

// Labels every container of the runner carries.
const (
	// LabelManaged marks a container started by prox; its value is "1".
	LabelManaged = "prox"
	// LabelConfig holds the config label of the runner that started it.
	LabelConfig = "prox.config"
	// LabelProcess holds the name of the process it runs.
	LabelProcess = "prox.process"
)

// defaultLabel derives the config label when the runner block sets none:
// "container-" and 12 hex digits of a hash of the machine's host name and
// the configuration file's path (sdk.ConfigPathEnv, set by prox; prox's
// working directory when absent), so that two projects, or two machines
// sharing an engine, do not sweep each other's containers, and a run of
// the same configuration from any folder finds the leftovers of the last.
func defaultLabel() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("default label: %w", err)
	}
	where := os.Getenv(sdk.ConfigPathEnv)
	if where == "" {
		if where, err = os.Getwd(); err != nil {
			return "", fmt.Errorf("default label: %w", err)
		}
	}
	sum := sha256.Sum256([]byte(host + "\x00" + where))
	return Name + "-" + hex.EncodeToString(sum[:6]), nil
}

// labels returns the labels of a container of process.
func labels(configLabel, process string) map[string]string {
	return map[string]string{LabelManaged: "1", LabelConfig: configLabel, LabelProcess: process}
}

// sweep removes, by force, every container labelled with configLabel, and
// returns how many it removed.
func sweep(ctx context.Context, c *client.Client, configLabel string) (int, error) {
	list, err := c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelManaged+"=1", LabelConfig+"="+configLabel),
	})
	if err != nil {
		return 0, fmt.Errorf("list leftover containers: %w", err)
	}
	var errs []error
	removed := 0
	for _, ctr := range list.Items {
		// The engine ANDs label filters; check anyway, a leftover sweep
		// must not touch anything else.
		if ctr.Labels[LabelConfig] != configLabel || ctr.Labels[LabelManaged] != "1" {
			continue
		}
		if err := remove(ctx, c, ctr.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove leftover container %s: %w", shortID(ctr.ID), err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// remove removes the container id by force, with its anonymous volumes. A
// container that is already gone is not an error.
func remove(ctx context.Context, c *client.Client, id string) error {
	_, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil {
		return nil
	}
	if gone, gerr := isGone(ctx, c, id); gerr == nil && gone {
		return nil
	}
	return err
}

// isGone reports whether the engine no longer knows the container id. It
// asks through a list, which answers "none" rather than an error.
func isGone(ctx context.Context, c *client.Client, id string) (bool, error) {
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("id", id)})
	if err != nil {
		return false, err
	}
	return len(list.Items) == 0, nil
}

// shortID returns the first 12 characters of a container ID, as engines
// print it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
