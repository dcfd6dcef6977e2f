package wire

// Shared batches: the bytes of a sink's batches need not cross a socket.
// On its first Write, the host's sink client creates a region of shared
// memory (a sealed memfd, NewRegion), offers it to the plugin with Share,
// and once the plugin has mapped it (MapRegion), encodes each batch into
// the region and sends only its length in the Write request. The plugin
// decodes the batch from its read-only mapping of the region. That saves,
// per byte, gRPC's transport copy and HTTP/2 framing on both sides and the
// kernel's two socket copies. The protocol's rules (one Write at a time,
// retiring the region after a Write whose outcome is unknown) are the
// host's, in internal/pluginhost.

// RegionSize is the size of a shared batch region: room for the largest
// batch the host's log manager sends (512 KiB of lines) with its per-line
// fields and events.
const RegionSize = 1 << 20
