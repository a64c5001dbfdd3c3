// Package agent wires the edge-agent services together: configuration from
// EDGE_ environment variables, one child logger per service, binding every
// listener before anything is served, the lifecycle of the whole process
// (telling systemd when it is ready and alive), the status model that the
// console and the MQTT bridge read, and signed updates of itself (install
// into package update's slots, the health window, commit or failure).
package agent
