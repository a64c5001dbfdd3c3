// Package broker is the agent's embedded MQTT 3.1.1 and 5 broker, so a
// fresh install shows its status with no broker to set up. It is meant for
// a loopback address: it lets anyone connect, read and publish, so bound
// to a LAN address it is an open broker for the whole network. Fleets
// point the agent at a real broker instead.
package broker
