// Package bridge publishes the agent's health, counters and events to an
// MQTT broker and answers a few commands, so Home Assistant, Node-RED or
// Grafana see the device and a fleet of them can be listed from one broker.
//
// Topics, under <prefix>/<device>/: availability (retained "online", with
// a retained "offline" Last Will), state (retained JSON, at start, every
// interval and on request), events/<kind> (JSON, not retained), cmd/<name>
// answered on cmd/<name>/reply. Home Assistant discovery goes under
// <discovery prefix>/sensor/<device>/<key>/config and is sent again when
// Home Assistant announces itself on <discovery prefix>/status.
//
// The paho client is set up to avoid its known traps: no ordered delivery
// (a slow handler must not stall the network loop), ConnectRetry and
// AutoReconnect with a capped backoff, subscriptions and "online" redone in
// OnConnect, WaitTimeout rather than Wait, and handlers that only hand work
// to the bridge's own goroutine. Nothing is queued while the broker is
// away: the state is published fresh on every connection, and events are
// bounded by the agent's event log.
package bridge
