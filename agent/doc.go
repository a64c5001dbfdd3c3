// Package agent wires the edge-agent services together: configuration from
// EDGE_ environment variables, one child logger per service, binding every
// listener before anything is served, the lifecycle of the whole process,
// and the status model that the console and the MQTT bridge read.
package agent
