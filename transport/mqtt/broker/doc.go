// Package broker is the agent's embedded MQTT 3.1.1 and 5 broker
// (mochi-mqtt), so a fresh install shows its status with no broker to
// set up. Fleets point the agent at a real broker instead.
//
// Who may do what: without Users every client is anonymous; with Users
// (a mosquitto_passwd file, passwd.go) its users are operators who may
// publish anywhere, and anonymous clients come in only if Anonymous says
// so. Anonymous clients read everything but may not publish to the
// Agent's protected topics (the device's own), nor take the agent's
// client id, which only the agent's in-process credential may use
// (auth.go, acl.go). Past three free ones, each wrong password locks its
// source out for twice as long as the lockout before (peer.Lockout with
// the numbers in lockout.go). A connection taking over a client id whose
// clean session is ending waits until the library is done with it
// (handover.go).
//
// What it may hold: packets, retained messages (retain.go), what waits
// for subscribers (queue.go), subscriptions and sessions all have bounds
// in bytes of memory, priced by cost.go; a subscriber that does not take
// its messages is disconnected. Every refusal is counted (counters.go).
package broker
