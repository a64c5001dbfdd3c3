// Package bridge publishes the agent's health, counters and events to an
// MQTT broker and answers a few commands, so Home Assistant, Node-RED or
// Grafana see the device and a fleet of them can be listed from one broker.
//
// Topics, under <prefix>/<device>/: availability (retained "online", with
// a retained "offline" Last Will), state (retained JSON, at start, every
// interval and on request), events/<kind> (JSON, not retained), cmd/<name>
// answered on cmd/<name>/reply. Home Assistant discovery is one retained
// device discovery message on <discovery prefix>/device/<device>/config
// (sensors, binary sensors and a Source's buttons), sent again when Home
// Assistant announces itself on <discovery prefix>/status. Per-entity
// configs an earlier version left under <discovery prefix>/sensor/<device>/
// are handed over to it (migrate, announce, clear) and components gone
// since the last run are removed; see discovery_state.go.
//
// Retained messages are state, never commands: one on cmd/<name> or on a
// Config.Subscriptions topic (the broker sends it again on every new
// subscription, that is at every reconnection) is dropped and counted as
// retained_dropped, and logged once per topic.
//
// Config.Actions answers the cmd/<action> topics it names (actions.go):
// each live request runs on a goroutine the bridge owns, at most one per
// action and maxActionsRunning in all (beyond, the reply is busy), with
// a context that ends with Run's, and Run waits for them before its
// goodbye. A retained request is not run: it gets a reply with code
// retained and the command that clears it. Replies to actions carry a
// code and what Actions.Handle returned.
//
// The paho client is set up to avoid its known traps: ConnectRetry and
// AutoReconnect with a capped backoff, subscriptions and "online" redone
// in OnConnect, WaitTimeout rather than Wait, and handlers that only hand
// work to the bridge's own goroutines and never wait, so messages can be
// delivered in order. paho's Publish waits for the socket, so only the
// publisher goroutine calls it, with a write timeout of writeTimeout; the
// run loop hands it messages through a bounded queue (drop and count when
// full) and never waits on the network, and Run returns within
// goodbyeTimeout, the disconnect's quiesce and writeTimeout of its context
// ending. While the broker is away only forwarded messages wait, in their
// bounded queue: the state is published fresh on every connection, and
// events are bounded by the agent's event log.
package bridge
